//! `switchyard dead-letters list|redrive`.

use clap::{Args, Subcommand};
use reqwest::Method;

use super::{encode, Connection};

#[derive(Args, Debug)]
pub struct DeadLetters {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: DeadLettersAction,
}

#[derive(Subcommand, Debug)]
enum DeadLettersAction {
    /// Dead letters, newest first.
    List {
        /// Only this function's (`name` or `name.namespace`).
        #[arg(long)]
        function: Option<String>,
        /// Only those that died at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send a dead letter's invocation again as a new job; with --all, every matching one not
    /// redriven yet.
    Redrive {
        /// The dead letter's id.
        #[arg(required_unless_present = "all")]
        id: Option<u64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// With --all: only this function's.
        #[arg(long, requires = "all")]
        function: Option<String>,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Id", "/id"),
    ("Function", "/failure/function"),
    ("Reason", "/failure/reason"),
    ("Status", "/failure/status"),
    ("Attempts", "/failure/attempts"),
    ("Died", "/failure/time"),
    ("Redriven as", "/redrive/callId"),
];

impl DeadLetters {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            DeadLettersAction::List {
                function,
                since,
                limit,
            } => {
                let mut query = format!("limit={limit}");
                if let Some(f) = function {
                    query.push_str(&format!("&function={}", encode(&f)));
                }
                if let Some(s) = since {
                    query.push_str(&format!("&since={}", encode(&s)));
                }
                let letters = gateway
                    .get(&format!("/system/dead-letters?{query}"))
                    .await?;
                gateway.print(&letters, COLUMNS);
            }
            DeadLettersAction::Redrive { id: Some(id), .. } => {
                let path = format!("/system/dead-letters/{id}/redrive");
                let answer = gateway.call(Method::POST, &path, None).await?;
                gateway.print(&answer, &[("Id", "/id"), ("New job", "/callId")]);
            }
            DeadLettersAction::Redrive {
                id: None, function, ..
            } => {
                let query = function
                    .map(|f| format!("?function={}", encode(&f)))
                    .unwrap_or_default();
                let answer = gateway
                    .call(
                        Method::POST,
                        &format!("/system/dead-letters/redrive{query}"),
                        None,
                    )
                    .await?;
                if gateway.json {
                    gateway.print(&answer, &[]);
                } else {
                    gateway.print(
                        &answer["redriven"],
                        &[("Id", "/id"), ("New job", "/callId")],
                    );
                }
            }
        }
        Ok(())
    }
}
