//! `switchyard schedules list|next|pause|resume`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::{encode, Connection};

#[derive(Args, Debug)]
pub struct Schedules {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: SchedulesAction,
}

#[derive(Subcommand, Debug)]
enum SchedulesAction {
    /// The scheduled functions of a namespace, with their next and last tick.
    List {
        #[arg(long)]
        namespace: Option<String>,
    },
    /// A schedule's next instants (UTC), e.g. across a daylight-saving change.
    Next {
        /// `name` or `name.namespace`.
        function: String,
        /// From this time (RFC 3339; default now).
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
    /// No tick runs until it is resumed.
    Pause {
        function: String,
    },
    Resume {
        function: String,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Function", "/function"),
    ("Schedule", "/schedule"),
    ("Time zone", "/timezone"),
    ("Paused", "/paused"),
    ("Next", "/next"),
    ("Last tick", "/lastTick"),
    ("Outcome", "/lastOutcome"),
    ("Last job", "/lastCallId"),
];

impl Schedules {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            SchedulesAction::List { namespace } => {
                let query = namespace
                    .map(|n| format!("?namespace={}", encode(&n)))
                    .unwrap_or_default();
                let schedules = gateway.get(&format!("/system/schedules{query}")).await?;
                gateway.print(&schedules, COLUMNS);
            }
            SchedulesAction::Next {
                function,
                from,
                count,
            } => {
                let mut path = format!("/system/schedules/{}?count={count}", encode(&function));
                if let Some(from) = from {
                    path.push_str(&format!("&from={}", encode(&from)));
                }
                let preview = gateway.get(&path).await?;
                if gateway.json {
                    gateway.print(&preview, &[]);
                } else {
                    let rows: Vec<Value> = preview["next"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|t| json!({ "at": t }))
                        .collect();
                    println!(
                        "{} `{}` in {}",
                        preview["function"].as_str().unwrap_or_default(),
                        preview["schedule"].as_str().unwrap_or_default(),
                        preview["timezone"].as_str().unwrap_or_default()
                    );
                    gateway.print(&Value::Array(rows), &[("Next (UTC)", "/at")]);
                }
            }
            SchedulesAction::Pause { function } => {
                let path = format!("/system/schedules/{}/pause", encode(&function));
                gateway.send(gateway.request(Method::POST, &path)).await?;
                gateway.done(&format!("paused {function}"));
            }
            SchedulesAction::Resume { function } => {
                let path = format!("/system/schedules/{}/resume", encode(&function));
                gateway.send(gateway.request(Method::POST, &path)).await?;
                gateway.done(&format!("resumed {function}"));
            }
        }
        Ok(())
    }
}
