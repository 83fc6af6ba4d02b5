//! `switchyard jobs list|get|result|cancel`.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::{encode, Connection, Gateway};

#[derive(Args, Debug)]
pub struct Jobs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: JobsAction,
}

#[derive(Subcommand, Debug)]
enum JobsAction {
    /// Job records, newest first.
    List {
        /// Only this function's (`name` or `name.namespace`).
        #[arg(long)]
        function: Option<String>,
        /// scheduled, queued, running, succeeded, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One job's record.
    Get {
        call_id: String,
        /// Wait until the job has ended, showing its progress.
        #[arg(long)]
        wait: bool,
    },
    /// A finished job's answer: its body on standard output, its status on standard error.
    Result {
        call_id: String,
        /// Wait until the job has ended, showing its progress.
        #[arg(long)]
        wait: bool,
    },
    /// Cancel a queued or running job.
    Cancel { call_id: String },
}

const COLUMNS: &[(&str, &str)] = &[
    ("Call id", "/callId"),
    ("Function", "/function"),
    ("Status", "/status"),
    ("Attempts", "/attempts"),
    ("Last status", "/lastStatusCode"),
    ("Created", "/createdAt"),
    ("Finished", "/finishedAt"),
];

impl Jobs {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        match self.action {
            JobsAction::List {
                function,
                status,
                limit,
            } => {
                let mut query = format!("limit={limit}");
                if let Some(f) = function {
                    query.push_str(&format!("&function={}", encode(&f)));
                }
                if let Some(s) = status {
                    query.push_str(&format!("&status={}", encode(&s)));
                }
                let jobs = gateway.get(&format!("/system/jobs?{query}")).await?;
                gateway.print(&jobs, COLUMNS);
            }
            JobsAction::Get { call_id, wait } => {
                let job = if wait {
                    wait_for_end(&gateway, &call_id).await?
                } else {
                    gateway
                        .get(&format!("/system/jobs/{}", encode(&call_id)))
                        .await?
                };
                if gateway.json {
                    gateway.print(&job, &[]);
                } else {
                    print!("{}", details(&job));
                }
            }
            JobsAction::Result { call_id, wait } => {
                if wait {
                    wait_for_end(&gateway, &call_id).await?;
                }
                let path = format!("/system/jobs/{}/result", encode(&call_id));
                let response = gateway.send(gateway.request(Method::GET, &path)).await?;
                let status = response
                    .headers()
                    .get("x-function-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let body = response.bytes().await?;
                if gateway.json {
                    let shown = json!({"status": status.parse::<u16>().ok(), "body": String::from_utf8_lossy(&body)});
                    gateway.print(&shown, &[]);
                } else {
                    eprintln!("function status: {status}");
                    std::io::stdout().write_all(&body)?;
                }
            }
            JobsAction::Cancel { call_id } => {
                let path = format!("/async-function/{}", encode(&call_id));
                gateway.send(gateway.request(Method::DELETE, &path)).await?;
                if gateway.json {
                    gateway.print(&json!({"callId": call_id, "cancelled": true}), &[]);
                } else {
                    println!("cancelled {call_id}");
                }
            }
        }
        Ok(())
    }
}

/// Polls the job until it has ended, saying each new status on standard error.
async fn wait_for_end(gateway: &Gateway, call_id: &str) -> anyhow::Result<Value> {
    let path = format!("/system/jobs/{}", encode(call_id));
    let mut last = String::new();
    let mut pause = Duration::from_millis(200);
    loop {
        let job = gateway.get(&path).await?;
        let status = job["status"].as_str().unwrap_or_default().to_string();
        if status != last {
            eprintln!("{call_id}: {status} (attempt {})", job["attempts"]);
            last = status.clone();
        }
        if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
            return Ok(job);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// A job's record as `field: value` lines.
fn details(job: &Value) -> String {
    let fields = [
        ("call id", "/callId"),
        ("function", "/function"),
        ("status", "/status"),
        ("attempts", "/attempts"),
        ("max attempts", "/maxAttempts"),
        ("created", "/createdAt"),
        ("trigger", "/trigger"),
        ("scheduled for", "/scheduledFor"),
        ("runs at", "/notBefore"),
        ("started", "/startedAt"),
        ("finished", "/finishedAt"),
        ("last status", "/lastStatusCode"),
        ("last error", "/lastError"),
        ("callback url", "/callbackUrl"),
        ("callback", "/callback/status"),
        ("dead-lettered", "/deadLettered"),
        ("result stored", "/resultStored"),
    ];
    let mut out: String = fields
        .iter()
        .filter_map(|(name, pointer)| {
            let value = job.pointer(pointer)?;
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            (!value.is_null()).then(|| format!("{name:<14} {text}\n"))
        })
        .collect();
    if let Some(attempts) = job["history"].as_array().filter(|a| !a.is_empty()) {
        out.push('\n');
        let rows: Vec<&Value> = attempts.iter().collect();
        let columns = [
            ("Attempt", "/number"),
            ("Started", "/startedAt"),
            ("Ended", "/endedAt"),
            ("Status", "/statusCode"),
            ("Error", "/error"),
        ];
        out.push_str(&super::table::render(&columns, &rows));
    }
    out
}
