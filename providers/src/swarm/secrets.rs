//! A function's secrets as Swarm secrets. Swarm secrets cannot change, so each written value of
//! a Switchyard secret is its own Swarm secret, named after the secret and its version; a
//! service is updated to the new one at its next deploy (as replicas elsewhere keep the value
//! they started with). Swarm secrets no service uses any more are removed.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use bollard::models::{SecretSpec, Service};
use bollard::query_parameters::ListSecretsOptionsBuilder;
use bollard::Docker;
use switchyard_broker::records::FunctionDeployment;

use super::spec::{short_digest, MountedSecret};
use crate::docker::spec::{FUNCTION_LABEL, NETWORK_LABEL};
use crate::secrets::SecretFiles;

/// Label naming the Switchyard secret a Swarm secret holds.
const SECRET_LABEL: &str = "dev.switchyard.secret";

/// Makes sure every secret `deployment` names exists in Swarm at its current version, and
/// returns them as the service mounts them. Fails, naming the secret, when one is missing.
pub async fn ensure(
    docker: &Docker,
    files: &SecretFiles,
    deployment: &FunctionDeployment,
    network: &str,
) -> Result<Vec<MountedSecret>, String> {
    let values = files.values(deployment).await?;
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let id = deployment.id();
    let existing = ours(docker, network)
        .await
        .map_err(|e| format!("cannot list Swarm secrets: {e}"))?;
    let mut mounted = Vec::with_capacity(values.len());
    for secret in values {
        let swarm_name = swarm_name(&id, &secret.name, &secret.version);
        let swarm_id = match existing.get(&swarm_name) {
            Some(swarm_id) => swarm_id.clone(),
            None => {
                let spec = SecretSpec {
                    name: Some(swarm_name.clone()),
                    labels: Some(HashMap::from([
                        (FUNCTION_LABEL.to_string(), id.clone()),
                        (NETWORK_LABEL.to_string(), network.to_string()),
                        (SECRET_LABEL.to_string(), secret.name.clone()),
                    ])),
                    data: Some(base64::engine::general_purpose::STANDARD.encode(&secret.value)),
                    ..Default::default()
                };
                docker
                    .create_secret(spec)
                    .await
                    .map_err(|e| {
                        format!("secret `{}`: cannot create it in Swarm: {e}", secret.name)
                    })?
                    .id
            }
        };
        mounted.push(MountedSecret {
            name: secret.name,
            swarm_name,
            swarm_id,
        });
    }
    Ok(mounted)
}

/// Removes this provider's Swarm secrets that none of `services` uses. One still used by a
/// task that is stopping cannot be removed yet: the next round tries again.
pub async fn prune(docker: &Docker, network: &str, services: &[Service]) {
    let used: HashSet<String> = services
        .iter()
        .filter_map(|s| {
            s.spec
                .as_ref()?
                .task_template
                .as_ref()?
                .container_spec
                .as_ref()
        })
        .flat_map(|c| c.secrets.iter().flatten())
        .filter_map(|s| s.secret_id.clone())
        .collect();
    let Ok(existing) = ours(docker, network).await else {
        return;
    };
    for (name, id) in existing {
        if !used.contains(&id) {
            match docker.delete_secret(&id).await {
                Ok(()) => tracing::info!(secret = %name, "removed a Swarm secret no service uses"),
                Err(error) => {
                    tracing::debug!(secret = %name, %error, "Swarm secret not removed yet")
                }
            }
        }
    }
}

/// This provider's Swarm secrets: name → id.
async fn ours(
    docker: &Docker,
    network: &str,
) -> Result<HashMap<String, String>, bollard::errors::Error> {
    let scope = format!("{NETWORK_LABEL}={network}");
    let filters = HashMap::from([("label", vec![scope.as_str()])]);
    let options = ListSecretsOptionsBuilder::new().filters(&filters).build();
    Ok(docker
        .list_secrets(Some(options))
        .await?
        .into_iter()
        .filter_map(|s| Some((s.spec?.name?, s.id?)))
        .collect())
}

/// `sy-<secret name>-<digest of function, name and version>`: within Swarm's 64 characters,
/// distinct per function and per written value, and saying nothing about the value.
fn swarm_name(function_id: &str, name: &str, version: &str) -> String {
    let digest = short_digest(format!("{function_id}\0{name}\0{version}").as_bytes());
    let readable: String = name.chars().take(40).collect();
    format!("sy-{readable}-{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_of_each_functions_secret_has_its_own_short_name() {
        let a = swarm_name("echo", "token", "v1");
        assert_ne!(a, swarm_name("echo", "token", "v2"));
        assert_ne!(a, swarm_name("echo.team-a", "token", "v1"));
        assert!(a.starts_with("sy-token-"), "{a}");
        assert!(swarm_name("f", &"t".repeat(63), "v").len() <= 64);
    }
}
