//! Replicas from Swarm's tasks: a task that runs, and is meant to, is a replica reachable at its
//! node's address and the port Swarm published for the watchdog there. Swarm reschedules the
//! tasks of a node that leaves; the next listing follows.

use std::collections::HashMap;

use bollard::models::{Node, Task, TaskState};

use crate::docker::spec::WATCHDOG_PORT;

/// Swarm replicas are listed as `<function>.s<task id>`.
pub const TASK_REPLICA_PREFIX: &str = "s";

/// A running task and where its watchdog answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReplica {
    pub service_id: String,
    /// `s` and the first 12 characters of the task id.
    pub replica: String,
    pub url: String,
}

/// Node id → the address other hosts reach it at.
pub fn node_addresses(nodes: Vec<Node>) -> HashMap<String, String> {
    nodes
        .into_iter()
        .filter_map(|node| {
            let address = node
                .status?
                .addr
                .filter(|a| !a.is_empty() && a != "0.0.0.0")?;
            Some((node.id?, address))
        })
        .collect()
}

/// The task as a replica, when it runs (and should) and has a published watchdog port on a
/// node whose address is known.
pub fn replica(task: &Task, nodes: &HashMap<String, String>) -> Option<TaskReplica> {
    let running = task.status.as_ref()?.state == Some(TaskState::RUNNING)
        && task.desired_state == Some(TaskState::RUNNING);
    if !running {
        return None;
    }
    let port = task
        .status
        .as_ref()?
        .port_status
        .as_ref()?
        .ports
        .as_ref()?
        .iter()
        .find(|p| p.target_port == Some(i64::from(WATCHDOG_PORT)))?
        .published_port?;
    let address = nodes.get(task.node_id.as_ref()?)?;
    let host = if address.contains(':') {
        format!("[{address}]")
    } else {
        address.clone()
    };
    let id = task.id.as_ref()?;
    Some(TaskReplica {
        service_id: task.service_id.clone()?,
        replica: format!("{TASK_REPLICA_PREFIX}{}", &id[..id.len().min(12)]),
        url: format!("http://{host}:{port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EndpointPortConfig, NodeStatus, PortStatus, TaskStatus};

    fn task(state: TaskState, desired: TaskState) -> Task {
        Task {
            id: Some("y5f6lgsj8lmbgjzkalni0tjbg".into()),
            service_id: Some("svc".into()),
            node_id: Some("node-1".into()),
            desired_state: Some(desired),
            status: Some(TaskStatus {
                state: Some(state),
                port_status: Some(PortStatus {
                    ports: Some(vec![EndpointPortConfig {
                        target_port: Some(8080),
                        published_port: Some(32769),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn nodes() -> HashMap<String, String> {
        node_addresses(vec![
            Node {
                id: Some("node-1".into()),
                status: Some(NodeStatus {
                    addr: Some("127.0.0.1".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Node {
                id: Some("node-2".into()),
                status: Some(NodeStatus {
                    addr: Some("0.0.0.0".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ])
    }

    #[test]
    fn a_running_task_is_a_replica_at_its_node_and_published_port() {
        let replica =
            replica(&task(TaskState::RUNNING, TaskState::RUNNING), &nodes()).expect("a replica");
        assert_eq!(replica.url, "http://127.0.0.1:32769");
        assert_eq!(replica.replica, "sy5f6lgsj8lmb");
        assert_eq!(replica.service_id, "svc");
    }

    #[test]
    fn tasks_starting_stopping_or_on_unknown_nodes_are_not_replicas() {
        assert!(replica(&task(TaskState::STARTING, TaskState::RUNNING), &nodes()).is_none());
        assert!(replica(&task(TaskState::RUNNING, TaskState::SHUTDOWN), &nodes()).is_none());
        let mut elsewhere = task(TaskState::RUNNING, TaskState::RUNNING);
        elsewhere.node_id = Some("node-2".into());
        assert!(replica(&elsewhere, &nodes()).is_none(), "no usable address");
    }
}
