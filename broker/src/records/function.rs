//! The function registry's records, in OpenFaaS's JSON shapes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::namespace::{qualify, DEFAULT_NAMESPACE};

/// What `faas-cli deploy` sends (OpenFaaS's `FunctionDeployment`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeployment {
    pub service: String,
    /// The container image. Required by the Docker provider; informational for processes.
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The function's process (`fprocess`), run by the watchdog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_vars: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Resources>,
    #[serde(default)]
    pub read_only_root_filesystem: bool,
}

/// Memory and CPU, as OpenFaaS writes them (`"128Mi"`, `"0.5"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
}

/// A function as stored in the registry (KV bucket `sy_functions`, key = its id: see
/// [`super::namespace`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    pub deployment: FunctionDeployment,
    /// Desired number of replicas.
    pub replicas: u32,
    pub created_at: DateTime<Utc>,
    /// With a `topic` annotation: the first `SY_EVENTS` sequence after the deploy answered, so
    /// every event stored after it reaches the function however late its consumer starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_start_sequence: Option<u64>,
    /// Why the provider cannot start the function's replicas (its last start failure, e.g. a
    /// secret deleted since the deploy), until they run. Written by the provider only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_failure: Option<String>,
}

/// Most replicas a function may have (the `com.openfaas.scale.max` label can only lower it).
pub const MAX_REPLICAS: u32 = 100;

/// The annotation that makes a function external: its replicas are these existing HTTP
/// endpoints (comma-separated URLs), not processes or containers Switchyard runs.
pub const ENDPOINT_ANNOTATION: &str = "com.switchyard.endpoint";

impl FunctionDeployment {
    /// The function's id (see [`super::namespace`]).
    pub fn id(&self) -> String {
        qualify(&self.service, self.namespace.as_deref())
    }

    /// The function's namespace.
    pub fn namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The value of the annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// The endpoints of an external function (see [`ENDPOINT_ANNOTATION`]): `None` when the
    /// function is not external, an error naming the bad URL when one does not parse.
    pub fn external_endpoints(&self) -> Option<Result<Vec<url::Url>, String>> {
        let value = self.annotations.as_ref()?.get(ENDPOINT_ANNOTATION)?;
        let urls = value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|text| {
                url::Url::parse(text)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| {
                        format!("annotation `{ENDPOINT_ANNOTATION}`: `{text}` is not an absolute http(s) URL")
                    })
            })
            .collect::<Result<Vec<_>, _>>();
        Some(urls.and_then(|urls| {
            if urls.is_empty() {
                Err(format!("annotation `{ENDPOINT_ANNOTATION}` names no URL"))
            } else {
                Ok(urls)
            }
        }))
    }
}

impl FunctionSpec {
    /// True for a function whose replicas are existing endpoints (see [`ENDPOINT_ANNOTATION`]).
    pub fn is_external(&self) -> bool {
        // The annotation's presence, as `external_endpoints` says, without parsing its URLs.
        self.deployment
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(ENDPOINT_ANNOTATION))
    }

    /// The function's id: its name, qualified by its namespace unless that is the default.
    pub fn name(&self) -> String {
        self.deployment.id()
    }

    pub fn namespace(&self) -> &str {
        self.deployment.namespace()
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.deployment
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// The desired replica count a deployment asks for: the `com.openfaas.scale.min` label, else
    /// 1; never more than [`MAX_REPLICAS`].
    pub fn initial_replicas(deployment: &FunctionDeployment) -> u32 {
        deployment
            .labels
            .as_ref()
            .and_then(|l| l.get("com.openfaas.scale.min"))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(1)
            .min(MAX_REPLICAS)
    }
}

/// What `GET /system/functions` answers (OpenFaaS's `FunctionStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    pub name: String,
    pub image: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_vars: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Resources>,
    #[serde(default)]
    pub read_only_root_filesystem: bool,
    pub invocation_count: u64,
    pub replicas: u64,
    /// Omitted when zero, as OpenFaaS does; faas-cli says "Ready" when it is above zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub available_replicas: u64,
    pub created_at: DateTime<Utc>,
    /// Why replicas cannot start, while they cannot (Switchyard's; OpenFaaS has no such field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_failure: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FunctionStatus {
    pub fn new(spec: &FunctionSpec, available_replicas: u64, invocation_count: u64) -> Self {
        let d = &spec.deployment;
        FunctionStatus {
            name: d.service.clone(),
            image: d.image.clone(),
            namespace: d.namespace().to_string(),
            env_process: d.env_process.clone(),
            env_vars: d.env_vars.clone(),
            constraints: d.constraints.clone(),
            secrets: d.secrets.clone(),
            labels: Some(listed_labels(d)),
            annotations: d.annotations.clone(),
            limits: d.limits.clone(),
            requests: d.requests.clone(),
            read_only_root_filesystem: d.read_only_root_filesystem,
            invocation_count,
            replicas: u64::from(spec.replicas),
            available_replicas,
            created_at: spec.created_at,
            start_failure: spec.start_failure.clone(),
        }
    }
}

/// The label faas-netes and faasd add to every function they list, naming it.
pub const FAAS_FUNCTION_LABEL: &str = "faas_function";

/// A function's labels as OpenFaaS providers list them: the deployment's, and
/// [`FAAS_FUNCTION_LABEL`] with its name.
fn listed_labels(deployment: &FunctionDeployment) -> BTreeMap<String, String> {
    let mut labels = deployment.labels.clone().unwrap_or_default();
    labels.insert(FAAS_FUNCTION_LABEL.to_string(), deployment.service.clone());
    labels
}

/// A function name that breaks the naming rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid function name `{0}`: names are 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit")]
pub struct InvalidFunctionName(pub String);

/// Checks a function name. Dots are refused because `name.namespace` splits on the last dot.
pub fn validate_function_name(name: &str) -> Result<(), InvalidFunctionName> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(InvalidFunctionName(name.to_string()))
    }
}

/// Checks a deployment's `secrets`: each named like a function (1 to 63 characters of
/// `a-z A-Z 0-9 - _`, starting with a letter or digit), so that a secret name is a file name
/// and never a path (`../x`, `/var/run/docker.sock`).
pub fn validate_secret_names(deployment: &FunctionDeployment) -> Result<(), String> {
    for name in deployment.secrets.iter().flatten() {
        if validate_function_name(name).is_err() {
            return Err(format!(
                "secret name `{name}`: use 1 to 63 characters of a-z, A-Z, 0-9, `-` and `_`, starting with a letter or digit"
            ));
        }
    }
    Ok(())
}

/// Checks the labels and annotations Switchyard acts on: each must parse and lie within its
/// range, and the error names the key, the value and the range.
pub fn validate_tuning(deployment: &FunctionDeployment) -> Result<(), String> {
    use std::time::Duration;
    let labels = deployment.labels.iter().flatten();
    let annotations = deployment.annotations.iter().flatten();
    let number = |key: &str, value: &str, min: u64, max: u64| match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(()),
        _ => Err(format!(
            "`{key}`: `{value}` is not a whole number from {min} to {max}"
        )),
    };
    let duration =
        |key: &str, value: &str, max: Duration| match crate::duration::parse_duration(value) {
            Ok(d) if d <= max => Ok(()),
            _ => Err(format!(
                "`{key}`: `{value}` is not a duration (e.g. 30s, 1m) of at most {}s",
                max.as_secs()
            )),
        };
    let replicas = u64::from(MAX_REPLICAS);
    for (key, value) in labels.chain(annotations) {
        match key.as_str() {
            "com.openfaas.scale.min" | "com.openfaas.scale.max" => number(key, value, 0, replicas)?,
            "com.openfaas.retry.attempts" => number(key, value, 1, 1000)?,
            "com.switchyard.async.concurrency" => number(key, value, 1, 10_000)?,
            "com.openfaas.retry.min_wait" | "com.openfaas.retry.max_wait" => {
                duration(key, value, Duration::from_secs(3600))?
            }
            "com.switchyard.async.timeout" => duration(key, value, Duration::from_secs(24 * 3600))?,
            "com.openfaas.retry.codes" => {
                for code in value.split([',', ' ']).filter(|c| !c.is_empty()) {
                    number(key, code, 100, 599)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_beyond_its_range_is_refused_by_key() {
        let with = |key: &str, value: &str| FunctionDeployment {
            service: "f".into(),
            labels: Some([(key.to_string(), value.to_string())].into()),
            ..Default::default()
        };
        for (key, value) in [
            ("com.openfaas.scale.min", "100000"),
            ("com.openfaas.retry.attempts", "0"),
            ("com.openfaas.retry.max_wait", "9999h"),
            ("com.switchyard.async.timeout", "soon"),
            ("com.openfaas.retry.codes", "42"),
        ] {
            let error = validate_tuning(&with(key, value)).expect_err(value);
            assert!(error.contains(key) && error.contains(value), "{error}");
        }
        assert!(validate_tuning(&with("com.openfaas.scale.min", "3")).is_ok());
        assert!(validate_tuning(&with("com.openfaas.retry.codes", "429, 503")).is_ok());
    }

    #[test]
    fn secret_names_are_never_paths() {
        let with = |name: &str| FunctionDeployment {
            service: "f".into(),
            secrets: Some(vec![name.to_string()]),
            ..Default::default()
        };
        assert!(validate_secret_names(&with("api-token_1")).is_ok());
        for bad in ["/var/run/docker.sock", "../", "a/b", "..", "", ".hidden"] {
            let error = validate_secret_names(&with(bad)).expect_err(bad);
            assert!(error.contains("secret name"), "{error}");
        }
    }

    #[test]
    fn external_endpoints_come_from_the_annotation() {
        let with = |value: &str| FunctionDeployment {
            service: "f".into(),
            annotations: Some([(ENDPOINT_ANNOTATION.to_string(), value.to_string())].into()),
            ..Default::default()
        };
        let urls = with("http://gw:8080/function/resize, https://b.example/x")
            .external_endpoints()
            .expect("external")
            .expect("valid");
        assert_eq!(urls.len(), 2);
        assert_eq!(urls[0].as_str(), "http://gw:8080/function/resize");
        for bad in ["", "ftp://x/", "not a url", "http://ok/, /relative"] {
            let error = with(bad)
                .external_endpoints()
                .expect("external")
                .expect_err(bad);
            assert!(error.contains(ENDPOINT_ANNOTATION), "{error}");
        }
        assert!(FunctionDeployment::default().external_endpoints().is_none());
    }

    #[test]
    fn names_follow_the_rule() {
        for good in ["echo", "a", "wc-c", "Fn_2", &"x".repeat(63)] {
            assert!(validate_function_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-lead",
            "_lead",
            "has.dot",
            "sp ace",
            "star*",
            "gt>",
            &"x".repeat(64),
        ] {
            assert!(validate_function_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_function_id_carries_its_namespace_unless_default() {
        let mut deployment = FunctionDeployment {
            service: "echo".into(),
            ..Default::default()
        };
        assert_eq!(
            (deployment.id(), deployment.namespace()),
            ("echo".into(), DEFAULT_NAMESPACE)
        );
        deployment.namespace = Some("team-a".into());
        assert_eq!(
            (deployment.id(), deployment.namespace()),
            ("echo.team-a".into(), "team-a")
        );
    }

    #[test]
    fn faas_cli_deploy_body_parses() {
        let body =
            r#"{"service":"Y","image":"X","envProcess":"cat","labels":{},"annotations":null}"#;
        let d: FunctionDeployment = serde_json::from_str(body).expect("parses");
        assert_eq!(d.env_process.as_deref(), Some("cat"));
        assert_eq!(d.annotations, None);
    }

    /// One replica of `deployment`, just deployed.
    fn deployed(deployment: FunctionDeployment) -> FunctionSpec {
        FunctionSpec {
            deployment,
            replicas: 1,
            created_at: Utc::now(),
            topic_start_sequence: None,
            start_failure: None,
        }
    }

    #[test]
    fn status_omits_zero_available_replicas() {
        let spec = deployed(FunctionDeployment {
            service: "f".into(),
            image: "i".into(),
            ..Default::default()
        });
        let json = serde_json::to_value(FunctionStatus::new(&spec, 0, 0)).expect("serializes");
        assert!(json.get("availableReplicas").is_none());
        assert_eq!(json["namespace"], "openfaas-fn");
        let json = serde_json::to_value(FunctionStatus::new(&spec, 2, 3)).expect("serializes");
        assert_eq!(json["availableReplicas"], 2);
    }

    /// faas-netes and faasd list every function with `faas_function: <name>` beside its own
    /// labels; the certifier checks it.
    #[test]
    fn listed_labels_name_the_function_as_openfaas_does() {
        let spec = deployed(FunctionDeployment {
            service: "f".into(),
            labels: Some([("team".to_string(), "blue".to_string())].into()),
            ..Default::default()
        });
        let json = serde_json::to_value(FunctionStatus::new(&spec, 0, 0)).expect("serializes");
        assert_eq!(
            json["labels"],
            serde_json::json!({"team": "blue", "faas_function": "f"})
        );
        assert_eq!(
            spec.deployment.labels.as_ref().map(|l| l.len()),
            Some(1),
            "stored as given"
        );
    }
}
