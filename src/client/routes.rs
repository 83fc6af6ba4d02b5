//! `switchyard routes list|get|create|delete`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::{encode, read_document, Connection};

#[derive(Args, Debug)]
pub struct Routes {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: RoutesAction,
}

#[derive(Subcommand, Debug)]
enum RoutesAction {
    /// Every route (of one namespace with --namespace).
    List {
        #[arg(long)]
        namespace: Option<String>,
    },
    /// One route.
    Get {
        name: String,
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Create a route from a JSON file (`-f route.json`, `-` for stdin).
    Create {
        #[arg(short, long)]
        file: String,
    },
    /// Delete a route.
    Delete {
        name: String,
        #[arg(long)]
        namespace: Option<String>,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Name", "/name"),
    ("Namespace", "/namespace"),
    ("Hosts", "/hosts"),
    ("Path", "/path"),
    ("Match", "/pathMatch"),
    ("Methods", "/methods"),
    ("Function", "/function"),
    ("Async", "/async"),
    ("Auth", "/auth/type"),
];

fn with_namespace(path: String, namespace: &Option<String>) -> String {
    match namespace {
        Some(ns) => format!("{path}?namespace={}", encode(ns)),
        None => path,
    }
}

impl Routes {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            RoutesAction::List { namespace } => {
                let path = with_namespace("/system/routes".into(), &namespace);
                gateway.print(&gateway.get(&path).await?, COLUMNS);
            }
            RoutesAction::Get { name, namespace } => {
                let path = with_namespace(format!("/system/routes/{}", encode(&name)), &namespace);
                gateway.print(&gateway.get(&path).await?, COLUMNS);
            }
            RoutesAction::Create { file } => {
                let body = read_document(&file)?;
                let created = gateway
                    .call(Method::POST, "/system/routes", Some(&body))
                    .await?;
                gateway.print(&created, COLUMNS);
            }
            RoutesAction::Delete { name, namespace } => {
                let path = with_namespace(format!("/system/routes/{}", encode(&name)), &namespace);
                gateway.call(Method::DELETE, &path, None).await?;
                if gateway.json {
                    gateway.print(&json!({"name": name, "deleted": true}), &[]);
                } else {
                    println!("deleted route {name}");
                }
            }
        }
        Ok(())
    }
}
