//! Secrets and namespaces through OpenFaaS's API against `switchyard up` (process provider):
//! what `faas-cli secret …` and `faas-cli … -n NAMESPACE` rely on.

mod common;

use std::time::Duration;

use common::{script, Api, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::{json, Value};

async fn send(api: &Api, method: Method, path: &str, body: Value) -> (u16, String) {
    let response = api
        .admin(method, path)
        .json(&body)
        .send()
        .await
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Every file below `dir` that holds `needle`.
#[tokio::test]
async fn secrets_are_created_listed_updated_mounted_for_processes_and_removed() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    const VALUE: &str = "pr1vate-v4lue-0f-th3-test";

    // faas-cli secret create: a text value; then again → 409.
    let created = send(
        &api,
        Method::POST,
        "/system/secrets",
        json!({"name": "db-password", "value": "first"}),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);
    let again = send(
        &api,
        Method::POST,
        "/system/secrets",
        json!({"name": "db-password", "value": "x"}),
    )
    .await;
    assert_eq!(again.0, 409, "{}", again.1);
    // faas-cli secret update --from-file: bytes as base64 rawValue.
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(VALUE);
    let updated = send(
        &api,
        Method::PUT,
        "/system/secrets",
        json!({"name": "db-password", "rawValue": raw}),
    )
    .await;
    assert_eq!(updated.0, 202, "{}", updated.1);
    let missing = send(
        &api,
        Method::PUT,
        "/system/secrets",
        json!({"name": "nope", "value": "x"}),
    )
    .await;
    assert_eq!(missing.0, 404, "{}", missing.1);
    let bad = send(
        &api,
        Method::POST,
        "/system/secrets",
        json!({"name": "../etc", "value": "x"}),
    )
    .await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(bad.1.contains("secret name"), "{}", bad.1);

    // faas-cli secret list: names, never values.
    let listed = api
        .admin(Method::GET, "/system/secrets")
        .send()
        .await
        .expect("answers");
    assert_eq!(listed.status(), 200);
    let listed = listed.text().await.expect("body");
    assert_eq!(
        serde_json::from_str::<Value>(&listed).expect("json"),
        json!([{"name": "db-password", "namespace": "openfaas-fn"}])
    );
    assert!(!listed.contains(VALUE) && !listed.contains(&raw));

    // A deployment naming a secret that does not exist is refused, as faas-netes does.
    let refused = api
        .deploy(json!({"service": "reader", "envProcess": "cat", "secrets": ["db-password", "api-key"]}))
        .await;
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.expect("body");
    assert!(
        text.contains("unable to fetch secrets") && text.contains("api-key"),
        "{text}"
    );

    // The process provider writes the secret into the function's own directory and names it in
    // `secret_mount_path`; only the provider's user may enter the directory or read the file.
    let dir = TempDir::new("secret-reader");
    let reader = script(
        &dir.0,
        "reader.sh",
        r#"printf '%s %s %s' "$(cat "$secret_mount_path/db-password")" "$(stat -c %a "$secret_mount_path")" "$(stat -c %a "$secret_mount_path/db-password")""#,
    );
    let deployed = api
        .deploy(json!({"service": "reader", "envProcess": reader, "secrets": ["db-password"]}))
        .await;
    assert_eq!(
        deployed.status(),
        202,
        "{}",
        deployed.text().await.unwrap_or_default()
    );
    api.wait_available("reader", 1).await;
    let answer = api.invoke("reader", "").await.text().await.expect("body");
    assert_eq!(answer, format!("{VALUE} 700 400"));

    // faas-cli secret update reaches the running function, without a restart (as faasd).
    let updated = send(
        &api,
        Method::PUT,
        "/system/secrets",
        json!({"name": "db-password", "value": "rotated"}),
    )
    .await;
    assert_eq!(updated.0, 202, "{}", updated.1);
    common::eventually(
        Duration::from_secs(10),
        "the new value in the running replica",
        || async {
            api.invoke("reader", "")
                .await
                .text()
                .await
                .unwrap_or_default()
                .starts_with("rotated ")
        },
    )
    .await;
    let restored = send(
        &api,
        Method::PUT,
        "/system/secrets",
        json!({"name": "db-password", "rawValue": raw}),
    )
    .await;
    assert_eq!(restored.0, 202, "{}", restored.1);
    common::eventually(Duration::from_secs(10), "the value back", || async {
        api.invoke("reader", "")
            .await
            .text()
            .await
            .unwrap_or_default()
            == format!("{VALUE} 700 400")
    })
    .await;

    // Sealed at rest: the value is in none of NATS's files; nor in Switchyard's log.
    let data = switchyard.dir.0.join("data");
    let holding: Vec<_> = common::files_holding(&data, VALUE.as_bytes())
        .into_iter()
        .chain(common::files_holding(&nats.store_dir(), VALUE.as_bytes()))
        .filter(|path| !path.starts_with(data.join("function-secrets")))
        .collect();
    assert!(
        holding.is_empty(),
        "the secret's value is stored in {holding:?}"
    );
    assert!(!switchyard.logs().contains(VALUE));

    // faas-cli secret remove: 202, then gone; again → 404.
    let removed = send(
        &api,
        Method::DELETE,
        "/system/secrets",
        json!({"name": "db-password"}),
    )
    .await;
    assert_eq!(removed.0, 202, "{}", removed.1);
    assert_eq!(api.admin_json("/system/secrets").await, json!([]));
    let gone = send(
        &api,
        Method::DELETE,
        "/system/secrets",
        json!({"name": "db-password"}),
    )
    .await;
    assert_eq!(gone.0, 404, "{}", gone.1);

    // Once no replica needs it, the value is on no disk: not in the data directory, not in the
    // replicas' runtime root.
    let deleted = send(
        &api,
        Method::DELETE,
        "/system/functions",
        json!({"functionName": "reader"}),
    )
    .await;
    assert_eq!(deleted.0, 202, "{}", deleted.1);
    common::eventually(
        Duration::from_secs(10),
        "the secret's files removed",
        || async {
            let runtime_roots = std::fs::read_dir(std::env::temp_dir())
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("switchyard-replicas-")
                })
                .map(|e| e.path());
            std::iter::once(data.clone())
                .chain(runtime_roots)
                .all(|dir| common::files_holding(&dir, VALUE.as_bytes()).is_empty())
        },
    )
    .await;
}

#[tokio::test]
async fn functions_with_one_name_live_in_two_namespaces() {
    let nats = Nats::start();
    // `ops` comes from configuration; `team-a` is created through the API.
    let switchyard = Switchyard::up_with(&nats, &[("SWITCHYARD_NAMESPACES", "ops")]);
    let api = switchyard.api();
    assert_eq!(
        api.admin_json("/system/namespaces").await,
        json!(["openfaas-fn", "ops"])
    );

    // A namespace must exist.
    let dir = TempDir::new("namespaces");
    let hello = |who: &str| script(&dir.0, &format!("{who}.sh"), &format!("printf '{who}'"));
    let body = |namespace: &str, who: &str| json!({"service": "hello", "namespace": namespace, "envProcess": hello(who)});
    let unknown = api.deploy(body("team-a", "a")).await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown
        .text()
        .await
        .expect("body")
        .contains("namespace `team-a` does not exist"));
    let (status, text) = send(
        &api,
        Method::POST,
        "/system/namespace/",
        json!({"name": "team-a"}),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let (status, _) = send(
        &api,
        Method::POST,
        "/system/namespace/",
        json!({"name": "team-a"}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, text) = send(
        &api,
        Method::POST,
        "/system/namespace/",
        json!({"name": "Bad_Name"}),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        api.admin_json("/system/namespaces").await,
        json!(["openfaas-fn", "ops", "team-a"])
    );
    let (status, text) = send(
        &api,
        Method::PUT,
        "/system/namespace/team-a",
        json!({"name": "team-a", "labels": {"owner": "a"}}),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(
        api.admin_json("/system/namespace/team-a").await["labels"],
        json!({"owner": "a"})
    );

    // The same name in two namespaces: two functions.
    assert_eq!(api.deploy(body("", "default")).await.status(), 202);
    assert_eq!(api.deploy(body("team-a", "team-a")).await.status(), 202);
    api.wait_available("hello", 1).await;
    api.wait_available("hello.team-a", 1).await;
    let answer = |r: reqwest::Response| async move { r.text().await.expect("body") };
    assert_eq!(answer(api.invoke("hello", "").await).await, "default");
    assert_eq!(
        answer(api.invoke("hello.openfaas-fn", "").await).await,
        "default"
    );
    assert_eq!(answer(api.invoke("hello.team-a", "").await).await, "team-a");
    assert_eq!(api.invoke("hello.ops", "").await.status(), 404);
    let call_id = api.queue("hello.team-a", "").await;
    let job = api
        .wait_job(&call_id, "succeeded", Duration::from_secs(20))
        .await;
    assert_eq!(job["function"], "hello.team-a");

    // faas-cli list -n team-a lists that namespace only; without -n the default one.
    let names = |list: Value| -> Vec<(String, String)> {
        list.as_array()
            .expect("array")
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap_or_default().to_string(),
                    f["namespace"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        names(api.admin_json("/system/functions?namespace=team-a").await),
        [("hello".to_string(), "team-a".to_string())]
    );
    assert_eq!(
        names(api.admin_json("/system/functions").await),
        [("hello".to_string(), "openfaas-fn".to_string())]
    );
    assert_eq!(
        names(api.admin_json("/system/functions?namespace=ops").await),
        []
    );
    let (status, text) = send(
        &api,
        Method::GET,
        "/system/functions?namespace=nope",
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let described = api
        .admin_json("/system/function/hello?namespace=team-a")
        .await;
    assert_eq!(described["namespace"], "team-a");

    // Scale and remove by namespace (faas-cli sends it in the body too).
    let (status, text) = send(
        &api,
        Method::POST,
        "/system/scale-function/hello?namespace=team-a",
        json!({"serviceName": "hello", "namespace": "team-a", "replicas": 2}),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    api.wait_available("hello.team-a", 2).await;
    assert_eq!(
        api.admin_json("/system/function/hello").await["replicas"],
        1
    );

    // A namespace with functions cannot be deleted; once empty it can.
    let (status, text) = send(&api, Method::DELETE, "/system/namespace/team-a", json!({})).await;
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("hello"), "{text}");
    let (status, text) = send(
        &api,
        Method::DELETE,
        "/system/functions",
        json!({"functionName": "hello", "namespace": "team-a"}),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(answer(api.invoke("hello", "").await).await, "default");
    let (status, text) = send(&api, Method::DELETE, "/system/namespace/team-a", json!({})).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(
        api.admin_json("/system/namespaces").await,
        json!(["openfaas-fn", "ops"])
    );

    // Secrets are per namespace too.
    let (status, text) = send(
        &api,
        Method::POST,
        "/system/secrets",
        json!({"name": "k", "namespace": "ops", "value": "v"}),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(api.admin_json("/system/secrets").await, json!([]));
    assert_eq!(
        api.admin_json("/system/secrets?namespace=ops").await,
        json!([{"name": "k", "namespace": "ops"}])
    );
}
