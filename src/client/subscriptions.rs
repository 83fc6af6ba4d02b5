//! `switchyard subscriptions list|get|create|delete`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::{encode, read_document, Connection};

#[derive(Args, Debug)]
pub struct Subscriptions {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: SubscriptionsAction,
}

#[derive(Subcommand, Debug)]
enum SubscriptionsAction {
    /// Every subscription.
    List,
    /// One subscription.
    Get { name: String },
    /// Create a subscription from flags, or from a JSON file (`-f sub.json`, `-` for stdin).
    Create {
        /// Its name (with flags).
        name: Option<String>,
        /// The function it invokes (`name` or `name.namespace`).
        #[arg(long)]
        function: Option<String>,
        /// Events whose type starts with this.
        #[arg(long)]
        type_prefix: Option<String>,
        /// Events whose source starts with this.
        #[arg(long)]
        source_prefix: Option<String>,
        /// `new` (default) or `all`, or an RFC 3339 time.
        #[arg(long)]
        start_at: Option<String>,
        /// The whole subscription as JSON instead of flags.
        #[arg(short, long, conflicts_with_all = ["name", "function"])]
        file: Option<String>,
    },
    /// Delete a subscription.
    Delete { name: String },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Name", "/name"),
    ("Function", "/function"),
    ("Filters", "/filters"),
    ("Starts", "/startAt"),
    ("Created", "/createdAt"),
];

impl Subscriptions {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            SubscriptionsAction::List => {
                gateway.print(&gateway.get("/system/subscriptions").await?, COLUMNS);
            }
            SubscriptionsAction::Get { name } => {
                let path = format!("/system/subscriptions/{}", encode(&name));
                gateway.print(&gateway.get(&path).await?, COLUMNS);
            }
            SubscriptionsAction::Create {
                name,
                function,
                type_prefix,
                source_prefix,
                start_at,
                file,
            } => {
                let body = match file {
                    Some(path) => read_document(&path)?,
                    None => from_flags(name, function, type_prefix, source_prefix, start_at)?,
                };
                let created = gateway
                    .call(Method::POST, "/system/subscriptions", Some(&body))
                    .await?;
                gateway.print(&created, COLUMNS);
            }
            SubscriptionsAction::Delete { name } => {
                let path = format!("/system/subscriptions/{}", encode(&name));
                gateway.call(Method::DELETE, &path, None).await?;
                if gateway.json {
                    gateway.print(&json!({"name": name, "deleted": true}), &[]);
                } else {
                    println!("deleted subscription {name}");
                }
            }
        }
        Ok(())
    }
}

fn from_flags(
    name: Option<String>,
    function: Option<String>,
    type_prefix: Option<String>,
    source_prefix: Option<String>,
    start_at: Option<String>,
) -> anyhow::Result<Value> {
    let (Some(name), Some(function)) = (name, function) else {
        anyhow::bail!("give a NAME and --function, or the whole subscription with --file");
    };
    let mut prefix = serde_json::Map::new();
    if let Some(t) = type_prefix {
        prefix.insert("type".into(), t.into());
    }
    if let Some(s) = source_prefix {
        prefix.insert("source".into(), s.into());
    }
    let filters = if prefix.is_empty() {
        json!([])
    } else {
        json!([{"prefix": prefix}])
    };
    let mut body = json!({"name": name, "function": function, "filters": filters});
    if let Some(start) = start_at {
        body["startAt"] = start.into();
    }
    Ok(body)
}
