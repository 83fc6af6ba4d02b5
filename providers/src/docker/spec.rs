//! A function deployment as a container: image, environment, labels, limits, file system.
//! Pure translation, no Docker calls.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use sha2::{Digest, Sha256};
use switchyard_broker::records::{validate_secret_names, FunctionDeployment, Resources};

/// Label naming the function a container runs; the provider manages only such containers.
pub const FUNCTION_LABEL: &str = "dev.switchyard.function";
/// Label naming the network (and so the provider) a container belongs to: providers on other
/// networks of the same engine leave it alone.
pub const NETWORK_LABEL: &str = "dev.switchyard.network";
/// Label holding [`spec_hash`] of the deployment a container was made from.
pub const SPEC_LABEL: &str = "dev.switchyard.spec";
/// The port the watchdog listens on inside the container.
pub const WATCHDOG_PORT: u16 = 8080;
/// Where secrets are mounted, as in OpenFaaS.
pub const SECRETS_DIR: &str = "/var/openfaas/secrets";

/// A short digest of the deployment: containers made from another one are replaced.
pub fn spec_hash(deployment: &FunctionDeployment) -> String {
    let json = serde_json::to_vec(deployment).unwrap_or_default();
    Sha256::digest(&json)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bridge network of `namespace`'s functions: `network` itself for the default namespace,
/// `<network>-<namespace>` for the others. Docker isolates bridge networks from each other, so
/// functions of one namespace cannot reach another's.
pub fn namespace_network(network: &str, namespace: &str) -> String {
    if namespace == switchyard_broker::records::DEFAULT_NAMESPACE {
        network.to_string()
    } else {
        format!("{network}-{namespace}")
    }
}

/// The container for one replica of `deployment`, labelled as the provider's on `network`
/// and joined to its namespace's network ([`namespace_network`]), with secrets read from
/// `secrets_dir/<name>` on the host (the function's own directory).
pub fn container_body(
    deployment: &FunctionDeployment,
    network: &str,
    secrets_dir: &std::path::Path,
) -> Result<ContainerCreateBody, String> {
    // A secret's host path is built from its name: only plain names.
    validate_secret_names(deployment)?;
    let mut labels = user_labels(deployment);
    labels.insert(FUNCTION_LABEL.to_string(), deployment.id());
    labels.insert(SPEC_LABEL.to_string(), spec_hash(deployment));
    labels.insert(NETWORK_LABEL.to_string(), network.to_string());
    let (memory, nano_cpus) = limits(deployment)?;
    let binds = deployment
        .secrets
        .iter()
        .flatten()
        .map(|name| {
            format!(
                "{}:{SECRETS_DIR}/{name}:ro",
                secrets_dir.join(name).display()
            )
        })
        .collect::<Vec<_>>();
    Ok(ContainerCreateBody {
        image: Some(deployment.image.clone()),
        env: Some(environment(deployment)),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(namespace_network(network, deployment.namespace())),
            memory,
            nano_cpus,
            // OpenFaaS on Docker runs functions read-only with a writable /tmp.
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                "rw,size=64m".to_string(),
            )])),
            binds: (!binds.is_empty()).then_some(binds),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    })
}

/// The replica's environment: the deployment's variables, `fprocess` and the watchdog's port.
pub(crate) fn environment(deployment: &FunctionDeployment) -> Vec<String> {
    let mut env: Vec<String> = deployment
        .env_vars
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(process) = deployment.env_process.as_deref().filter(|p| !p.is_empty()) {
        env.push(format!("fprocess={process}"));
    }
    env.push(format!("port={WATCHDOG_PORT}"));
    env
}

/// The deployment's own labels.
pub(crate) fn user_labels(deployment: &FunctionDeployment) -> HashMap<String, String> {
    deployment
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The deployment's limits as (memory bytes, nano-CPUs), or what is wrong with them.
pub(crate) fn limits(
    deployment: &FunctionDeployment,
) -> Result<(Option<i64>, Option<i64>), String> {
    resources(deployment.limits.as_ref(), "limits")
}

/// The deployment's requests (reservations) as (memory bytes, nano-CPUs).
pub(crate) fn requests(
    deployment: &FunctionDeployment,
) -> Result<(Option<i64>, Option<i64>), String> {
    resources(deployment.requests.as_ref(), "requests")
}

fn resources(
    resources: Option<&Resources>,
    field: &str,
) -> Result<(Option<i64>, Option<i64>), String> {
    let Some(resources) = resources else {
        return Ok((None, None));
    };
    let memory = resources
        .memory
        .as_deref()
        .map(|m| {
            let bytes = parse_memory(m)
                .ok_or_else(|| format!("{field}.memory `{m}`: use e.g. 128Mi, 1Gi or 64m"))?;
            if bytes < MIN_MEMORY {
                return Err(format!(
                    "{field}.memory `{m}` is below Docker's minimum of 6Mi"
                ));
            }
            Ok(bytes)
        })
        .transpose()?;
    let nano_cpus = resources
        .cpu
        .as_deref()
        .map(|c| parse_cpu(c).ok_or_else(|| format!("{field}.cpu `{c}`: use e.g. 0.5 or 500m")))
        .transpose()?;
    Ok((memory, nano_cpus))
}

/// The least memory Docker lets a container have (it refuses to create one with less).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Bytes from Kubernetes-style (`128Mi`, `1Gi`, `500M`) or Docker-style (`64m`) quantities.
pub fn parse_memory(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit {
        "" => 1.0,
        "k" | "K" | "kb" | "KB" => 1e3,
        "Ki" => 1024.0,
        "M" | "MB" => 1e6,
        "m" | "Mi" => 1024.0 * 1024.0,
        "G" | "GB" => 1e9,
        "g" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * factor;
    (bytes >= 1.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// Nano-CPUs from `0.5` (cores) or `500m` (millicores).
pub fn parse_cpu(text: &str) -> Option<i64> {
    let text = text.trim();
    let cores: f64 = match text.strip_suffix('m') {
        Some(millis) => millis.parse::<f64>().ok()? / 1000.0,
        None => text.parse().ok()?,
    };
    (cores > 0.0).then_some((cores * 1e9) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> FunctionDeployment {
        FunctionDeployment {
            service: "echo".into(),
            image: "switchyard/function:latest".into(),
            env_process: Some("cat".into()),
            env_vars: Some([("A".to_string(), "1".to_string())].into()),
            labels: Some([("team".to_string(), "x".to_string())].into()),
            secrets: Some(vec!["token".into()]),
            limits: Some(Resources {
                memory: Some("128Mi".into()),
                cpu: Some("500m".into()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_deployment_becomes_a_read_only_labelled_limited_container() {
        let body =
            container_body(&deployment(), "switchyard", "/data/secrets".as_ref()).expect("valid");
        let env = body.env.expect("env");
        assert!(env.contains(&"fprocess=cat".to_string()) && env.contains(&"A=1".to_string()));
        let labels = body.labels.expect("labels");
        assert_eq!(labels[FUNCTION_LABEL], "echo");
        assert_eq!(labels["team"], "x");
        assert_eq!(labels[SPEC_LABEL], spec_hash(&deployment()));
        assert_eq!(labels[NETWORK_LABEL], "switchyard");
        let host = body.host_config.expect("host config");
        assert_eq!(host.memory, Some(128 * 1024 * 1024));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.network_mode.as_deref(), Some("switchyard"));
        assert_eq!(
            host.binds,
            Some(vec![
                "/data/secrets/token:/var/openfaas/secrets/token:ro".to_string()
            ])
        );
    }

    #[test]
    fn quantities_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_memory("64m"), Some(64 * 1024 * 1024));
        assert_eq!(parse_memory("1Gi"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_memory("lots"), None);
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_cpu("0.5"), Some(500_000_000));
        assert_eq!(parse_cpu("-1"), None);
        let mut bad = deployment();
        bad.limits = Some(Resources {
            memory: Some("lots".into()),
            cpu: None,
        });
        let error = container_body(&bad, "n", "/s".as_ref()).expect_err("bad memory");
        assert!(error.contains("limits.memory"), "{error}");
        // Docker refuses to create a container with less than 6 MB: refused at deploy, not
        // retried by the provider forever.
        bad.limits = Some(Resources {
            memory: Some("5Mi".into()),
            cpu: None,
        });
        let error = container_body(&bad, "n", "/s".as_ref()).expect_err("too little memory");
        assert!(
            error.contains("limits.memory `5Mi`") && error.contains("6Mi"),
            "{error}"
        );
        bad.limits = Some(Resources {
            memory: Some("6Mi".into()),
            cpu: None,
        });
        assert!(container_body(&bad, "n", "/s".as_ref()).is_ok());
    }

    #[test]
    fn another_deployment_has_another_hash() {
        let mut changed = deployment();
        changed.env_process = Some("wc -c".into());
        assert_ne!(spec_hash(&changed), spec_hash(&deployment()));
    }
}
