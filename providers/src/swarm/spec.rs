//! A function deployment as a Swarm service: replicas, rolling updates, limits, secrets, the
//! overlay network and the watchdog's port. Pure translation, no Docker calls.

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, Limit, Mount, MountTmpfsOptions, MountTypeEnum, NetworkAttachmentConfig,
    ResourceObject, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecResources,
};
use sha2::{Digest, Sha256};
use switchyard_broker::records::{validate_secret_names, FunctionDeployment};

use crate::docker::spec::{
    environment, limits, namespace_network, requests, user_labels, FUNCTION_LABEL, NETWORK_LABEL,
    SECRETS_DIR, SPEC_LABEL, WATCHDOG_PORT,
};

/// Label set on the containers of Swarm tasks (besides [`FUNCTION_LABEL`], which `logs`
/// reads), so that a Docker provider on the same engine never mistakes them for its own.
pub const SWARM_TASK_LABEL: &str = "dev.switchyard.swarm";

/// A Swarm secret this deployment mounts: the secret's name and id in Swarm, and the name the
/// function reads it by (`/var/openfaas/secrets/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedSecret {
    pub name: String,
    pub swarm_name: String,
    pub swarm_id: String,
}

/// The service's name: readable (`sy-<function name>-…`) and unique per function id (a digest
/// of the id ends it), within Swarm's 63 characters.
pub fn service_name(function_id: &str) -> String {
    let digest = short_digest(function_id.as_bytes());
    let readable: String = function_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("sy-{}-{digest}", readable.trim_end_matches('-'))
}

/// Twelve hex digits of SHA-256: names and versions, not security.
pub fn short_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The environment variable that gives the watchdog its replica token (the watchdog reads it
/// once and hides it from the function's processes).
const REPLICA_TOKEN_VARIABLE: &str = "replica_token";

/// The service for `deployment` with `replicas` tasks on its namespace's overlay
/// ([`namespace_network`] of `network`), each publishing the watchdog's port on its node (host
/// mode, a port Swarm picks), so that dispatchers outside the overlay reach each replica at
/// its node's address. A published port is reachable from every container of the Swarm, so
/// the watchdog answers only requests that carry `replica_token`.
pub fn service_spec(
    deployment: &FunctionDeployment,
    replicas: u32,
    network: &str,
    secrets: &[MountedSecret],
    replica_token: &str,
) -> Result<ServiceSpec, String> {
    validate_secret_names(deployment)?;
    validate_constraints(deployment)?;
    let id = deployment.id();
    let (memory_bytes, nano_cpus) = limits(deployment)?;
    let (reserved_memory, reserved_cpus) = requests(deployment)?;
    let mut labels = user_labels(deployment);
    labels.insert(FUNCTION_LABEL.to_string(), id.clone());
    labels.insert(NETWORK_LABEL.to_string(), network.to_string());
    labels.insert(
        SPEC_LABEL.to_string(),
        crate::docker::spec::spec_hash(deployment),
    );
    let container_labels = HashMap::from([
        (FUNCTION_LABEL.to_string(), id.clone()),
        (SWARM_TASK_LABEL.to_string(), network.to_string()),
    ]);
    let secrets = secrets
        .iter()
        .map(|s| TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(format!("{SECRETS_DIR}/{}", s.name)),
                uid: Some("0".into()),
                gid: Some("0".into()),
                // World-readable: the image's user may not be root.
                mode: Some(0o444),
            }),
            secret_id: Some(s.swarm_id.clone()),
            secret_name: Some(s.swarm_name.clone()),
        })
        .collect::<Vec<_>>();
    let mut env = environment(deployment);
    env.push(format!("{REPLICA_TOKEN_VARIABLE}={replica_token}"));
    let container = TaskSpecContainerSpec {
        image: Some(deployment.image.clone()),
        env: Some(env),
        labels: Some(container_labels),
        // OpenFaaS on Docker runs functions read-only with a writable /tmp.
        read_only: Some(true),
        mounts: Some(vec![Mount {
            target: Some("/tmp".into()),
            typ: Some(MountTypeEnum::TMPFS),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: Some(64 * 1024 * 1024),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        secrets: (!secrets.is_empty()).then_some(secrets),
        ..Default::default()
    };
    Ok(ServiceSpec {
        name: Some(service_name(&id)),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus,
                    memory_bytes,
                    pids: None,
                }),
                reservations: Some(ResourceObject {
                    nano_cpus: reserved_cpus,
                    memory_bytes: reserved_memory,
                    generic_resources: None,
                }),
            }),
            // OpenFaaS's `constraints` were Swarm placement constraints from the start
            // (`node.role == worker`, `node.labels.zone == eu`).
            placement: deployment
                .constraints
                .clone()
                .map(|constraints| TaskSpecPlacement {
                    constraints: Some(constraints),
                    ..Default::default()
                }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(namespace_network(network, deployment.namespace())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(replicas)),
            }),
            ..Default::default()
        }),
        // A rolling update: one task at a time, the new one started before the old one stops,
        // rolled back if the new ones fail.
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: None,
            ports: Some(vec![EndpointPortConfig {
                protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                target_port: Some(i64::from(WATCHDOG_PORT)),
                published_port: None,
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                name: None,
            }]),
        }),
        ..Default::default()
    })
}

/// Placement constraints Swarm can read: a few short `<attribute> == <value>` (or `!=`)
/// expressions. Swarm checks the attributes when the service is created.
fn validate_constraints(deployment: &FunctionDeployment) -> Result<(), String> {
    let constraints = deployment.constraints.as_deref().unwrap_or_default();
    if constraints.len() > MAX_CONSTRAINTS {
        return Err(format!(
            "constraints: at most {MAX_CONSTRAINTS}, got {}",
            constraints.len()
        ));
    }
    for constraint in constraints {
        let well_formed = constraint.len() <= 256
            && (constraint.contains("==") || constraint.contains("!="))
            && !constraint.chars().any(char::is_control);
        if !well_formed {
            return Err(format!(
                "constraint `{constraint}`: use `<attribute> == <value>` or `!=`, e.g. `node.role == worker`"
            ));
        }
    }
    Ok(())
}

const MAX_CONSTRAINTS: usize = 16;

/// The replica token a task (or a service's task template) was given by [`service_spec`]. Each
/// task keeps its own: during a rolling update old and new tasks answer to different ones.
pub fn replica_token_of(task: &TaskSpec) -> Option<&str> {
    let env = task.container_spec.as_ref()?.env.as_ref()?;
    env.iter()
        .rev()
        .find_map(|v| v.strip_prefix(REPLICA_TOKEN_VARIABLE)?.strip_prefix('='))
}

/// The replica count a service asks for (0 when it is not replicated).
pub fn replicas_of(spec: &ServiceSpec) -> u32 {
    spec.mode
        .as_ref()
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0)
}

/// `spec` asking for `replicas` tasks, everything else unchanged.
pub fn with_replicas(mut spec: ServiceSpec, replicas: u32) -> ServiceSpec {
    spec.mode = Some(ServiceSpecMode {
        replicated: Some(ServiceSpecModeReplicated {
            replicas: Some(i64::from(replicas)),
        }),
        ..Default::default()
    });
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_broker::records::Resources;

    fn deployment() -> FunctionDeployment {
        FunctionDeployment {
            service: "echo".into(),
            namespace: Some("team-a".into()),
            image: "switchyard/function:latest".into(),
            env_process: Some("cat".into()),
            labels: Some([("team".to_string(), "x".to_string())].into()),
            secrets: Some(vec!["token".into()]),
            limits: Some(Resources {
                memory: Some("128Mi".into()),
                cpu: Some("500m".into()),
            }),
            requests: Some(Resources {
                memory: Some("64Mi".into()),
                cpu: None,
            }),
            constraints: Some(vec!["node.role == manager".into()]),
            ..Default::default()
        }
    }

    fn token() -> MountedSecret {
        MountedSecret {
            name: "token".into(),
            swarm_name: "sy-token-0123".into(),
            swarm_id: "abc".into(),
        }
    }

    #[test]
    fn a_deployment_becomes_a_labelled_limited_rolling_service() {
        let spec = service_spec(&deployment(), 3, "switchyard-swarm", &[token()], "s3cret")
            .expect("valid");
        let template = spec.task_template.as_ref().expect("task");
        assert_eq!(replica_token_of(template), Some("s3cret"));
        assert_eq!(replicas_of(&spec), 3);
        let labels = spec.labels.clone().expect("labels");
        assert_eq!(labels[FUNCTION_LABEL], "echo.team-a");
        assert_eq!(labels[NETWORK_LABEL], "switchyard-swarm");
        assert_eq!(labels["team"], "x");
        let task = spec.task_template.clone().expect("task");
        let limit = task
            .resources
            .clone()
            .and_then(|r| r.limits)
            .expect("limits");
        assert_eq!(limit.memory_bytes, Some(128 * 1024 * 1024));
        assert_eq!(limit.nano_cpus, Some(500_000_000));
        let reserved = task.resources.as_ref().and_then(|r| r.reservations.clone());
        assert_eq!(
            reserved.and_then(|r| r.memory_bytes),
            Some(64 * 1024 * 1024)
        );
        let network = task.networks.clone().expect("networks")[0].target.clone();
        assert_eq!(
            network.as_deref(),
            Some("switchyard-swarm-team-a"),
            "its namespace's"
        );
        let placement = task.placement.clone().and_then(|p| p.constraints);
        assert_eq!(placement, Some(vec!["node.role == manager".to_string()]));
        let container = task.container_spec.expect("container");
        assert_eq!(container.read_only, Some(true));
        assert!(container
            .env
            .expect("env")
            .contains(&"fprocess=cat".to_string()));
        let secret = &container.secrets.expect("secrets")[0];
        let file = secret.file.as_ref().expect("file");
        assert_eq!(file.name.as_deref(), Some("/var/openfaas/secrets/token"));
        assert_eq!(secret.secret_id.as_deref(), Some("abc"));
        let port = &spec
            .endpoint_spec
            .clone()
            .and_then(|e| e.ports)
            .expect("ports")[0];
        assert_eq!(port.target_port, Some(8080));
        assert_eq!(
            port.publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
        assert_eq!(replicas_of(&with_replicas(spec, 0)), 0);
    }

    #[test]
    fn service_names_are_short_valid_and_distinct() {
        let a = service_name("a_b.c");
        let b = service_name("a.b_c");
        assert_ne!(a, b);
        let long = service_name(&format!("{}.{}", "f".repeat(63), "n".repeat(63)));
        assert!(long.len() <= 63, "{long}");
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn bad_limits_and_secret_names_are_refused() {
        let mut bad = deployment();
        bad.limits = Some(Resources {
            memory: Some("lots".into()),
            cpu: None,
        });
        assert!(service_spec(&bad, 1, "n", &[], "t").is_err());
        let mut bad = deployment();
        bad.secrets = Some(vec!["../etc".into()]);
        assert!(service_spec(&bad, 1, "n", &[], "t").is_err());
        let mut bad = deployment();
        bad.constraints = Some(vec!["node.role".into()]);
        let error = service_spec(&bad, 1, "n", &[], "t").expect_err("not a comparison");
        assert!(error.contains("node.role"), "{error}");
    }
}
