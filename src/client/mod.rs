//! The client verbs: what faas-cli does not cover, over the gateway's HTTP API. Tables for
//! people; `--json` for scripts. The gateway's URL and credentials come from flags, the
//! environment (`SWITCHYARD_GATEWAY`, `SWITCHYARD_ADMIN_USER`, `SWITCHYARD_ADMIN_PASSWORD`) or the
//! data directory (`<data dir>/admin-password`, as `switchyard up` writes it).
//!
//! One file per group of verbs: [`jobs`], [`schedules`], [`events`], [`subscriptions`], [`sources`],
//! [`dead_letters`], [`routes`], [`access`] (organizations, policies, service accounts and
//! their tokens, the audit log); [`table`] prints the tables. `--token` (`SWITCHYARD_TOKEN`)
//! signs in with an API or OIDC token instead of the admin's password.

mod access;
mod dead_letters;
mod events;
mod jobs;
mod routes;
mod schedules;
mod sources;
mod subscriptions;
mod table;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

/// Where the gateway is and how to sign in.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The gateway's URL.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_GATEWAY",
        default_value = "http://127.0.0.1:8080"
    )]
    gateway: String,
    /// The admin user.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_ADMIN_USER",
        default_value = "admin"
    )]
    user: String,
    /// The admin password; else read from <data dir>/admin-password.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    /// Where `switchyard up` keeps its data (for the generated admin password).
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_DATA_DIR",
        default_value = "./.switchyard"
    )]
    data_dir: PathBuf,
    /// Print JSON (one document, or one line per event) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Sign in with this bearer token (a service account's API token, or an OIDC token)
    /// instead of the admin's password.
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// The verbs, by what they act on.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Asynchronous jobs: list, show, read the answer of, cancel.
    Jobs(jobs::Jobs),
    /// Schedules: list, preview the next ticks, pause, resume.
    Schedules(schedules::Schedules),
    /// Events as they are stored (`events tail`).
    Events(events::Events),
    /// Event subscriptions: list, show, create, delete.
    Subscriptions(subscriptions::Subscriptions),
    /// Event sources: list, show, create, delete.
    Sources(sources::Sources),
    /// Dead letters: list, redrive.
    DeadLetters(dead_letters::DeadLetters),
    /// API routes: list, show, create, delete.
    Routes(routes::Routes),
    /// Organizations: list, create, delete.
    Organizations(access::Organizations),
    /// Access policies: list, create, delete.
    Policies(access::Policies),
    /// Service accounts and their API tokens.
    ServiceAccounts(access::ServiceAccounts),
    /// The audit log of changes made through the API.
    Audit(access::Audit),
}

impl ClientCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            ClientCommand::Jobs(c) => c.run().await,
            ClientCommand::Schedules(c) => c.run().await,
            ClientCommand::Events(c) => c.run().await,
            ClientCommand::Subscriptions(c) => c.run().await,
            ClientCommand::Sources(c) => c.run().await,
            ClientCommand::DeadLetters(c) => c.run().await,
            ClientCommand::Routes(c) => c.run().await,
            ClientCommand::Organizations(c) => c.run().await,
            ClientCommand::Policies(c) => c.run().await,
            ClientCommand::ServiceAccounts(c) => c.run().await,
            ClientCommand::Audit(c) => c.run().await,
        }
    }
}

/// A signed-in HTTP client of one gateway.
pub(crate) struct Gateway {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    pub(crate) json: bool,
}

/// How requests are signed.
enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

impl Connection {
    pub(crate) fn open(&self) -> anyhow::Result<Gateway> {
        let password = match (&self.token, &self.password) {
            (Some(token), _) => {
                return Ok(Gateway {
                    http: reqwest::Client::new(),
                    base: self.gateway.trim_end_matches('/').to_string(),
                    credentials: Credentials::Bearer(token.clone()),
                    json: self.json,
                })
            }
            (None, Some(password)) => password.clone(),
            (None, None) => {
                let path = self.data_dir.join("admin-password");
                std::fs::read_to_string(&path)
                    .with_context(|| format!("no --password and cannot read {}", path.display()))?
                    .trim()
                    .to_string()
            }
        };
        Ok(Gateway {
            http: reqwest::Client::new(),
            base: self.gateway.trim_end_matches('/').to_string(),
            credentials: Credentials::Basic {
                user: self.user.clone(),
                password,
            },
            json: self.json,
        })
    }
}

impl Gateway {
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.credentials {
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Says that something was done: a line for people, `{"done": …}` for scripts.
    pub(crate) fn done(&self, what: &str) {
        if self.json {
            self.print(&serde_json::json!({"done": what}), &[]);
        } else {
            println!("{what}");
        }
    }

    /// Sends `request`; an error answer becomes an error carrying the gateway's message.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        bail!("{status}: {}", text.trim())
    }

    /// `GET path`, as JSON.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.send(self.request(reqwest::Method::GET, path)).await?;
        response
            .json()
            .await
            .context("the gateway's answer is not JSON")
    }

    /// `method path` with a JSON body; the answer as JSON (`null` when empty).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let text = self.send(request).await?.text().await?;
        if text.trim().is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str(&text).context("the gateway's answer is not JSON")
        }
    }

    /// Prints `value` as JSON, or as a table of `columns` (heading, JSON pointer).
    pub(crate) fn print(&self, value: &Value, columns: &[(&str, &str)]) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
            return;
        }
        let rows: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        print!("{}", table::render(columns, &rows));
    }
}

/// A JSON document from a file, or from standard input for `-`.
pub(crate) fn read_document(path: &str) -> anyhow::Result<Value> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))
}

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
