//! Function logs from the containers' own logs, in OpenFaaS's shape: one JSON object per line,
//! `{name, namespace, instance, timestamp, text}`.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use bytes::Bytes;

use futures::stream::{self, BoxStream, StreamExt};
use serde_json::json;
use switchyard_broker::provider::LogsRequest;
use switchyard_broker::records::split_qualified;

use super::spec::FUNCTION_LABEL;

/// The log lines of every container of the function, merged as they come, as NDJSON.
pub async fn function_logs(query: &LogsRequest) -> Result<BoxStream<'static, Bytes>, String> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| format!("cannot use the Docker engine: {e}"))?;
    let label = format!("{FUNCTION_LABEL}={}", query.function);
    let filters = HashMap::from([("label", vec![label.as_str()])]);
    let options = ListContainersOptionsBuilder::new()
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| format!("cannot list containers: {e}"))?;
    let mut streams = Vec::new();
    for container in containers {
        let Some(id) = container.id else { continue };
        let short = id[..id.len().min(12)].to_string();
        if query
            .instance
            .as_ref()
            .is_some_and(|i| !id.starts_with(i.as_str()))
        {
            continue;
        }
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(query.follow);
        if let Some(tail) = query.tail {
            options = options.tail(&tail.to_string());
        }
        if let Some(since) = query.since {
            options = options.since(i32::try_from(since.timestamp()).unwrap_or(0));
        }
        let function = query.function.clone();
        let lines = docker
            .logs(&id, Some(options.build()))
            .filter_map(move |chunk| {
                let line = match chunk {
                    Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message }) => {
                        Some(ndjson(&function, &short, &message))
                    }
                    _ => None,
                };
                std::future::ready(line)
            });
        streams.push(lines.boxed());
    }
    Ok(stream::select_all(streams).boxed())
}

/// One line of Docker's timestamped log as OpenFaaS's JSON, with a newline.
fn ndjson(function: &str, instance: &str, message: &[u8]) -> Bytes {
    let (name, namespace) = split_qualified(function);
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end_matches('\n');
    let (timestamp, text) = text.split_once(' ').unwrap_or(("", text));
    let mut line = json!({
        "name": name,
        "namespace": namespace,
        "instance": instance,
        "timestamp": timestamp,
        "text": text,
    })
    .to_string();
    line.push('\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_lines_become_openfaas_log_messages() {
        let line = ndjson(
            "echo",
            "abc123",
            b"2026-11-23T16:03:59.211242Z watchdog listening\n",
        );
        let value: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(value["timestamp"], "2026-11-23T16:03:59.211242Z");
        assert_eq!(value["text"], "watchdog listening");
        assert_eq!(value["instance"], "abc123");
        assert_eq!(
            value["namespace"],
            switchyard_broker::records::DEFAULT_NAMESPACE
        );
        assert!(line.ends_with(b"\n"));
    }
}
