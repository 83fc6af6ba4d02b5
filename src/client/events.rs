//! `switchyard events tail`: the events stored from now on, as they come (the gateway's
//! server-sent events), until interrupted; `switchyard events types`: the event catalog.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::{encode, Connection};

#[derive(Args, Debug)]
pub struct Events {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    action: EventsAction,
}

#[derive(Subcommand, Debug)]
enum EventsAction {
    /// Print events as they are stored: one line each (the CloudEvent as JSON with --json).
    Tail {
        /// Only events whose type starts with this.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only events whose source starts with this.
        #[arg(long)]
        source: Option<String>,
        /// Only events taken in by this source (its name), or `reply`.
        #[arg(long)]
        ingress: Option<String>,
    },
    /// The event types seen, per source, with counts (the event catalog).
    Types {
        /// Only what this source took in.
        #[arg(long)]
        source: Option<String>,
        /// With a vCenter --source: also every class the vSphere schema knows.
        #[arg(long, requires = "source")]
        known: bool,
    },
}

impl Events {
    pub async fn run(self) -> anyhow::Result<()> {
        let gateway = self.connection.open()?;
        let (event_type, source, ingress) = match self.action {
            EventsAction::Tail {
                event_type,
                source,
                ingress,
            } => (event_type, source, ingress),
            EventsAction::Types { source, known } => {
                let mut query = source
                    .map(|s| format!("?source={}", encode(&s)))
                    .unwrap_or_default();
                if known {
                    query.push_str("&known=true");
                }
                let types = gateway.get(&format!("/system/event-types{query}")).await?;
                let columns = [
                    ("Source", "/source"),
                    ("Type", "/type"),
                    ("Count", "/count"),
                    ("First seen", "/firstSeen"),
                    ("Last seen", "/lastSeen"),
                ];
                gateway.print(&types, &columns);
                return Ok(());
            }
        };
        let query: Vec<String> = [
            ("type", event_type),
            ("source", source),
            ("ingress", ingress),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", encode(&v?))))
        .collect();
        let path = format!("/system/events/stream?{}", query.join("&"));
        let mut response = gateway.send(gateway.request(Method::GET, &path)).await?;
        if !gateway.json {
            eprintln!("following events (Ctrl-C to stop)");
        }
        let mut buffer = String::new();
        while let Some(chunk) = response.chunk().await? {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                if gateway.json {
                    println!("{data}");
                } else if let Ok(event) = serde_json::from_str::<Value>(&data) {
                    println!("{}", line(&event));
                }
            }
        }
        anyhow::bail!("the gateway closed the stream")
    }
}

/// `time  type  source  id  data` on one line.
fn line(event: &Value) -> String {
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    let data = match (&event["data"], event["data_base64"].as_str()) {
        (Value::Null, Some(b64)) => format!("({} base64 characters)", b64.len()),
        (Value::Null, None) => String::new(),
        (Value::String(s), _) => s.clone(),
        (other, _) => other.to_string(),
    };
    format!(
        "{}  {}  {}  {}  {}",
        text("time"),
        text("type"),
        text("source"),
        text("id"),
        data.replace('\n', " ")
    )
}
