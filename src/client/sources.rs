//! `switchyard sources list|get|create|delete`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::{encode, read_document, Connection};

#[derive(Args, Debug)]
pub struct Sources {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: SourcesAction,
}

#[derive(Subcommand, Debug)]
enum SourcesAction {
    /// Every event source, with its status (never its credentials).
    List,
    /// One event source.
    Get { name: String },
    /// Create an event source from JSON (`-f source.json`, `-` for stdin), e.g.
    /// {"name":"orders","kind":"webhook","config":{"auth":{"token":"…"}}}.
    Create {
        #[arg(short, long)]
        file: String,
    },
    /// Delete an event source.
    Delete { name: String },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Name", "/name"),
    ("Kind", "/kind"),
    ("State", "/status/state"),
    ("Last error", "/status/lastError"),
    ("Created", "/createdAt"),
];

impl Sources {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            SourcesAction::List => {
                gateway.print(&gateway.get("/system/event-sources").await?, COLUMNS)
            }
            SourcesAction::Get { name } => {
                let path = format!("/system/event-sources/{}", encode(&name));
                gateway.print(&gateway.get(&path).await?, COLUMNS);
            }
            SourcesAction::Create { file } => {
                let body = read_document(&file)?;
                let created = gateway
                    .call(Method::POST, "/system/event-sources", Some(&body))
                    .await?;
                gateway.print(&created, COLUMNS);
            }
            SourcesAction::Delete { name } => {
                let path = format!("/system/event-sources/{}", encode(&name));
                gateway.call(Method::DELETE, &path, None).await?;
                if gateway.json {
                    gateway.print(&json!({"name": name, "deleted": true}), &[]);
                } else {
                    println!("deleted event source {name}");
                }
            }
        }
        Ok(())
    }
}
