//! Organizations, roles, tokens and single sign-on against `switchyard up` (issue 15): two
//! organizations whose service accounts and OIDC users (from a real test identity provider)
//! can reach only what their policies give them (functions, jobs, events, subscriptions, event sources); revoked and expired tokens refused; every
//! change in the audit log.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::idp::IdentityProvider;
use common::{Api, Nats, Switchyard};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A client that signs requests one way, and remembers every change it attempted.
struct Caller<'a> {
    api: &'a Api,
    auth: Auth,
    changes: &'a Mutex<Vec<(String, String)>>,
}

#[derive(Clone)]
enum Auth {
    Admin,
    Bearer(String),
    Nobody,
}

impl Caller<'_> {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        if method != Method::GET {
            let bare = path.split('?').next().unwrap_or(path).to_string();
            self.changes
                .lock()
                .expect("lock")
                .push((method.to_string(), bare));
        }
        let request = self.api.http.request(method, self.api.url(path));
        match &self.auth {
            Auth::Admin => request.basic_auth("admin", Some(common::ADMIN_PASSWORD)),
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Nobody => request,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answers");
        (response.status(), response.text().await.unwrap_or_default())
    }

    async fn expect(&self, status: u16, method: Method, path: &str, body: Option<Value>) -> String {
        let (got, text) = self.send(method.clone(), path, body).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {text}");
        text
    }

    async fn invoke(&self, function: &str) -> StatusCode {
        let url = self.api.url(&format!("/function/{function}"));
        let request = self.api.http.post(url).body("hi");
        let request = match &self.auth {
            Auth::Admin => request.basic_auth("admin", Some(common::ADMIN_PASSWORD)),
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Nobody => request,
        };
        request.send().await.expect("answers").status()
    }
}

#[tokio::test]
async fn two_organizations_see_change_and_invoke_only_what_their_policies_give() {
    let idp = IdentityProvider::start().await;
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_OIDC_ISSUER", &idp.issuer),
            ("SWITCHYARD_OIDC_AUDIENCE", "switchyard"),
        ],
    );
    let api = switchyard.api();
    let changes = Mutex::new(Vec::new());
    let as_ = |auth: Auth| Caller {
        api: &api,
        auth,
        changes: &changes,
    };
    let admin = as_(Auth::Admin);

    // The super-user sets up two organizations, a namespace each, a service account each with
    // a developer policy, and OIDC users and groups with their roles.
    for org in ["acme", "globex"] {
        admin
            .expect(
                201,
                Method::POST,
                "/system/organizations",
                Some(json!({"name": org})),
            )
            .await;
        admin
            .expect(
                201,
                Method::POST,
                "/system/namespace/",
                Some(json!({"name": format!("{org}-dev"), "organization": org})),
            )
            .await;
        admin
            .expect(
                201,
                Method::POST,
                "/system/service-accounts",
                Some(json!({"name": "ci", "organization": org})),
            )
            .await;
        admin
            .expect(201, Method::POST, "/system/policies",
                Some(json!({"name": "ci-devs", "organization": org, "subjects": ["serviceaccount:ci"], "role": "developer"})))
            .await;
    }
    admin
        .expect(201, Method::POST, "/system/policies",
            Some(json!({"name": "viewers", "organization": "acme", "subjects": ["user:victor"], "role": "viewer"})))
        .await;
    admin
        .expect(201, Method::POST, "/system/policies",
            Some(json!({"name": "eng", "organization": "acme", "namespace": "acme-dev", "subjects": ["group:acme-eng"], "role": "developer"})))
        .await;
    admin
        .expect(201, Method::POST, "/system/policies",
            Some(json!({"name": "admins", "organization": "globex", "subjects": ["user:gina"], "role": "admin"})))
        .await;
    let token_of = |text: String| -> (String, String) {
        let issued: Value = serde_json::from_str(&text).expect("JSON");
        (
            issued["id"].as_str().expect("id").to_string(),
            issued["token"]
                .as_str()
                .expect("token shown once")
                .to_string(),
        )
    };
    let (acme_id, acme_token) = token_of(
        admin
            .expect(
                201,
                Method::POST,
                "/system/service-accounts/acme/ci/tokens",
                None,
            )
            .await,
    );
    let (_, globex_token) = token_of(
        admin
            .expect(
                201,
                Method::POST,
                "/system/service-accounts/globex/ci/tokens",
                None,
            )
            .await,
    );
    let listed = admin
        .expect(
            200,
            Method::GET,
            "/system/service-accounts/acme/ci/tokens",
            None,
        )
        .await;
    assert!(
        !listed.contains(&acme_token[20..]) && !listed.contains("digest"),
        "tokens are shown once: {listed}"
    );

    let acme = as_(Auth::Bearer(acme_token.clone()));
    let globex = as_(Auth::Bearer(globex_token));
    let private = json!({"com.switchyard.access": "private"});
    for (caller, ns) in [(&acme, "acme-dev"), (&globex, "globex-dev")] {
        caller
            .expect(202, Method::POST, "/system/functions",
                Some(json!({"service": "app", "namespace": ns, "envProcess": "cat", "annotations": private})))
            .await;
    }
    api.wait_available("app.acme-dev", 1).await;
    api.wait_available("app.globex-dev", 1).await;

    // Acme's developer: its own namespace yes, globex's no (403), whatever the verb.
    acme.expect(
        200,
        Method::GET,
        "/system/functions?namespace=acme-dev",
        None,
    )
    .await;
    acme.expect(
        403,
        Method::GET,
        "/system/functions?namespace=globex-dev",
        None,
    )
    .await;
    acme.expect(403, Method::GET, "/system/function/app.globex-dev", None)
        .await;
    acme.expect(
        403,
        Method::PUT,
        "/system/functions",
        Some(json!({"service": "app", "namespace": "globex-dev", "envProcess": "wc"})),
    )
    .await;
    acme.expect(
        403,
        Method::DELETE,
        "/system/functions",
        Some(json!({"functionName": "app.globex-dev"})),
    )
    .await;
    acme.expect(403, Method::POST, "/system/policies",
        Some(json!({"name": "me-too", "organization": "acme", "subjects": ["user:x"], "role": "admin"}))).await;
    // Private functions: invoked by whoever may invoke in their namespace, nobody else.
    assert_eq!(acme.invoke("app.acme-dev").await, 200);
    assert_eq!(acme.invoke("app.globex-dev").await, 403);
    assert_eq!(as_(Auth::Nobody).invoke("app.globex-dev").await, 401);
    assert_eq!(globex.invoke("app.globex-dev").await, 200);
    // Jobs and events: another organization's are not visible.
    let response = api
        .http
        .post(api.url("/async-function/app.globex-dev"))
        .bearer_auth(match &globex.auth {
            Auth::Bearer(t) => t.clone(),
            _ => unreachable!(),
        })
        .body("job")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 202);
    let call_id = response.headers()["x-call-id"]
        .to_str()
        .expect("id")
        .to_string();
    api.wait_job(&call_id, "succeeded", Duration::from_secs(30))
        .await;
    acme.expect(403, Method::GET, &format!("/system/jobs/{call_id}"), None)
        .await;
    globex
        .expect(200, Method::GET, &format!("/system/jobs/{call_id}"), None)
        .await;
    acme.expect(403, Method::GET, "/system/event-types", None)
        .await;
    // Event sources belong to a namespace; subscriptions to their function's.
    let hook = |name: &str, ns: &str| {
        json!({"name": name, "namespace": ns, "kind": "webhook",
        "config": {"auth": {"token": "t0k3n-t0k3n-t0k3n-t0k3n"}, "type": "com.example.order"}})
    };
    let subscription = |name: &str, ns: &str| json!({"name": name, "function": format!("app.{ns}"), "filters": []});
    owned_by_namespace(&globex, &acme, "/system/event-sources", hook).await;
    owned_by_namespace(&globex, &acme, "/system/subscriptions", subscription).await;
    // Lists hold only what the caller may read: globex's source and subscription are not in
    // acme's.
    for collection in ["/system/event-sources", "/system/subscriptions"] {
        let listed = acme.expect(200, Method::GET, collection, None).await;
        assert!(!listed.contains("theirs"), "{collection}: {listed}");
        let listed = globex.expect(200, Method::GET, collection, None).await;
        assert!(listed.contains("theirs"), "{collection}: {listed}");
    }
    acme.expect(403, Method::GET, "/system/jobs", None).await;
    // The super-user sees everything.
    let all = admin
        .expect(
            200,
            Method::GET,
            "/system/functions?namespace=globex-dev",
            None,
        )
        .await;
    assert!(all.contains("\"app\""), "{all}");

    // OIDC users: gina administers globex (and only globex), victor only views acme, dave's
    // group develops in acme-dev.
    let user = |sub: &str, groups: Value| {
        as_(Auth::Bearer(idp.token(
            "switchyard",
            sub,
            300,
            json!({"groups": groups}),
        )))
    };
    let gina = user("gina", json!([]));
    gina.expect(
        200,
        Method::GET,
        "/system/functions?namespace=globex-dev",
        None,
    )
    .await;
    gina.expect(
        200,
        Method::GET,
        "/system/policies?organization=globex",
        None,
    )
    .await;
    gina.expect(
        403,
        Method::GET,
        "/system/functions?namespace=acme-dev",
        None,
    )
    .await;
    assert_eq!(gina.invoke("app.globex-dev").await, 200);
    let victor = user("victor", json!([]));
    victor
        .expect(
            200,
            Method::GET,
            "/system/functions?namespace=acme-dev",
            None,
        )
        .await;
    victor
        .expect(
            403,
            Method::POST,
            "/system/functions",
            Some(json!({"service": "nope", "namespace": "acme-dev", "envProcess": "cat"})),
        )
        .await;
    assert_eq!(
        victor.invoke("app.acme-dev").await,
        403,
        "a viewer cannot invoke"
    );
    let dave = user("dave", json!(["acme-eng"]));
    dave.expect(
        202,
        Method::POST,
        "/system/functions",
        Some(json!({"service": "daves", "namespace": "acme-dev", "envProcess": "cat"})),
    )
    .await;
    // Tokens the identity provider did not issue as configured: refused.
    let expired = as_(Auth::Bearer(idp.token(
        "switchyard",
        "gina",
        -300,
        json!({}),
    )));
    expired
        .expect(
            401,
            Method::GET,
            "/system/functions?namespace=globex-dev",
            None,
        )
        .await;
    let elsewhere = as_(Auth::Bearer(idp.token(
        "another-app",
        "gina",
        300,
        json!({}),
    )));
    elsewhere
        .expect(
            401,
            Method::GET,
            "/system/functions?namespace=globex-dev",
            None,
        )
        .await;

    // A revoked token, and one that expired: 401.
    admin
        .expect(
            204,
            Method::DELETE,
            &format!("/system/tokens/{acme_id}"),
            None,
        )
        .await;
    acme.expect(
        401,
        Method::GET,
        "/system/functions?namespace=acme-dev",
        None,
    )
    .await;
    let short = admin
        .expect(
            201,
            Method::POST,
            "/system/service-accounts/acme/ci/tokens",
            Some(json!({"expiresIn": "1s"})),
        )
        .await;
    let (_, short) = token_of(short);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    as_(Auth::Bearer(short))
        .expect(
            401,
            Method::GET,
            "/system/functions?namespace=acme-dev",
            None,
        )
        .await;

    // Every change attempted above is in the audit log, with who and the outcome.
    let audit: Vec<Value> = serde_json::from_str(
        &admin
            .expect(200, Method::GET, "/system/audit?limit=1000", None)
            .await,
    )
    .expect("JSON");
    let attempted = changes.lock().expect("lock").clone();
    for (method, path) in &attempted {
        assert!(
            audit
                .iter()
                .any(|e| e["method"] == method.as_str() && e["path"] == path.as_str()),
            "{method} {path} is not in the audit log"
        );
    }
    assert!(audit
        .iter()
        .any(|e| e["who"] == "serviceaccount:acme/ci" && e["outcome"] == "denied"));
    assert!(audit
        .iter()
        .any(|e| e["who"] == "user:dave" && e["outcome"] == "done"));
    assert!(audit
        .iter()
        .any(|e| e["who"] == "admin" && e["path"] == "/system/organizations"));
    acme.expect(401, Method::GET, "/system/audit", None).await;
    victor.expect(403, Method::GET, "/system/audit", None).await;
}

/// Records of `collection` (`body(name, namespace)`) are the namespace's: `owner` makes one in
/// globex-dev, which `other` can neither make there nor read nor remove; `other` makes and
/// removes its own in acme-dev.
async fn owned_by_namespace(
    owner: &Caller<'_>,
    other: &Caller<'_>,
    collection: &str,
    body: impl Fn(&str, &str) -> Value,
) {
    let theirs = format!("{collection}/theirs");
    owner
        .expect(
            201,
            Method::POST,
            collection,
            Some(body("theirs", "globex-dev")),
        )
        .await;
    other
        .expect(
            403,
            Method::POST,
            collection,
            Some(body("sneaky", "globex-dev")),
        )
        .await;
    other.expect(403, Method::GET, &theirs, None).await;
    other.expect(403, Method::DELETE, &theirs, None).await;
    other
        .expect(
            201,
            Method::POST,
            collection,
            Some(body("mine", "acme-dev")),
        )
        .await;
    other
        .expect(204, Method::DELETE, &format!("{collection}/mine"), None)
        .await;
}

/// Finding 4 of the tenancy issue: an event belongs to the organization of the source that took
/// it in; another organization's subscription never receives it, whatever its filters say,
/// unless the source is shared with it. Finding 13: a function's page served on the gateway's
/// origin runs sandboxed.
#[tokio::test]
async fn events_reach_only_their_organization_unless_shared() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let admin = |method: Method, path: &str, body: Value| {
        let request = api.admin(method, path).json(&body);
        async move {
            let response = request.send().await.expect("answers");
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        }
    };
    for (organization, namespace) in [("a", "a-ns"), ("b", "b-ns")] {
        assert_eq!(
            admin(
                Method::POST,
                "/system/organizations",
                json!({"name": organization})
            )
            .await
            .0,
            201
        );
        assert_eq!(
            admin(
                Method::POST,
                "/system/namespace/",
                json!({"name": namespace, "organization": organization})
            )
            .await
            .0,
            201
        );
        let (status, text) = admin(
            Method::POST,
            "/system/functions",
            json!({"service": "sink", "namespace": namespace, "envProcess": "cat"}),
        )
        .await;
        assert_eq!(status, 202, "{text}");
        api.wait_available(&format!("sink.{namespace}"), 1).await;
    }
    for (name, namespace, shared) in [
        ("b-hook", "b-ns", json!([])),
        ("shared", "openfaas-fn", json!(["a"])),
        ("ops", "openfaas-fn", json!([])),
    ] {
        let (status, text) = admin(Method::POST, "/system/event-sources", json!({"name": name, "namespace": namespace, "kind": "webhook", "sharedWith": shared, "config": {"auth": {"none": true}}})).await;
        assert_eq!(status, 201, "{text}");
    }
    for (name, function, ingress) in [
        ("a-spies-on-b", "sink.a-ns", "b-hook"),
        ("b-own", "sink.b-ns", "b-hook"),
        ("a-shared", "sink.a-ns", "shared"),
        ("a-spies-on-ops", "sink.a-ns", "ops"),
    ] {
        api.subscribe(json!({"name": name, "function": function, "filters": [{"exact": {"syingress": ingress}}]})).await;
    }
    for (hook, id) in [("b-hook", "1"), ("shared", "2"), ("ops", "3")] {
        let response = api
            .post_event(hook, ("/test", id, "com.example.t"), "x")
            .await;
        assert_eq!(response.status(), 202, "{hook}");
    }
    let jobs = |function: &'static str| {
        let api = &api;
        async move {
            api.admin_json(&format!("/system/jobs?function={function}"))
                .await
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    common::eventually(
        Duration::from_secs(30),
        "b's and the shared event delivered",
        || async { jobs("sink.b-ns").await == 1 && jobs("sink.a-ns").await >= 1 },
    )
    .await;
    common::drained(&nats, Duration::from_secs(30)).await;
    assert_eq!(
        jobs("sink.a-ns").await,
        1,
        "a received only the event shared with it"
    );
    assert_eq!(jobs("sink.b-ns").await, 1);

    // A function's answer on the gateway's origin cannot act as the UI.
    let response = api
        .http
        .post(api.url("/function/sink.a-ns"))
        .body("<script>fetch('/system/secrets')</script>")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        policy.starts_with("sandbox") && !policy.contains("allow-same-origin"),
        "{policy}"
    );
}

/// Finding 6: on the process provider a function cannot read Switchyard's files or another
/// function's secrets, cannot read another replica's environment, and another function's
/// watchdog answers nobody without that replica's token.
#[tokio::test]
async fn process_replicas_are_sandboxed_from_each_other_and_from_switchyard() {
    let nats = Nats::start();
    let switchyard = Switchyard::up_with(
        &nats,
        &[
            ("SWITCHYARD_FUNCTION_READ_PATHS", ""),
            ("SWITCHYARD_FUNCTION_WRITE_PATHS", ""),
        ],
    );
    let api = switchyard.api();
    let data = switchyard.dir.0.join("data");
    let response = api
        .admin(Method::POST, "/system/secrets")
        .json(&json!({"name": "vault", "value": "s3cret-of-the-victim"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 201);
    for (name, fprocess, secrets) in [
        ("victim", "cat", json!(["vault"])),
        ("probe", "sh", json!([])),
    ] {
        let response = api
            .deploy(json!({"service": name, "envProcess": fprocess, "secrets": secrets}))
            .await;
        assert_eq!(response.status(), 202, "{name}");
        api.wait_available(name, 1).await;
    }
    // The probe runs the shell script it is sent.
    let run = |script: String| {
        let api = &api;
        async move {
            let response = api
                .http
                .post(api.url("/function/probe"))
                .body(script)
                .send()
                .await
                .expect("answers");
            response.text().await.unwrap_or_default()
        }
    };
    // It works inside its own walls.
    let own = run("echo mine > \"$TMPDIR/x\" && cat \"$TMPDIR/x\" && ls /usr/bin/env".into()).await;
    assert!(
        own.contains("mine") && own.contains("/usr/bin/env"),
        "{own}"
    );

    let (victim_watchdog, victim_secrets) = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .find_map(|entry| {
            let env = std::fs::read(entry.path().join("environ")).ok()?;
            let env = String::from_utf8_lossy(&env).into_owned();
            let secrets = env
                .split('\0')
                .find_map(|v| v.strip_prefix("secret_mount_path="))?
                .to_string();
            (env.contains("fprocess=cat\0") && secrets.ends_with("/victim"))
                .then(|| (entry.path(), secrets))
        })
        .expect("the victim's watchdog runs");
    let attempts = [
        "cat \"$secret_mount_path/../victim/vault\"".to_string(),
        format!("cat {victim_secrets}/vault"),
        format!("cat {}/function-secrets/victim/vault", data.display()),
        format!("od -c {}/secrets.key", data.display()),
        format!("ls {}", data.display()),
        format!("cat {}/environ", victim_watchdog.display()),
        format!(
            "kill -STOP {}",
            victim_watchdog
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("0")
        ),
    ];
    for attempt in attempts {
        let answer = run(format!("{attempt}; echo exit=$?")).await;
        assert!(
            !answer.contains("s3cret")
                && !answer.contains("replica_token")
                && !answer.contains("exit=0"),
            "{attempt}: {answer}"
        );
    }
    // Still running and answering: the signal did not reach it.
    let echoed = api
        .http
        .post(api.url("/function/victim"))
        .body("alive")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(echoed, "alive");

    // Its watchdog answers only with its token, which no function can read.
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let endpoints = async_nats::jetstream::new(client)
        .get_key_value(switchyard_broker::buckets::ENDPOINTS)
        .await
        .expect("the endpoints bucket");
    let entry = endpoints
        .get("victim.r0")
        .await
        .expect("reads")
        .expect("listed");
    let endpoint: switchyard_broker::records::Endpoint =
        serde_json::from_slice(&entry).expect("an endpoint");
    let direct = reqwest::Client::new()
        .post(&endpoint.url)
        .body("sneaky")
        .send()
        .await
        .expect("answers");
    assert_eq!(direct.status(), 403);
}
