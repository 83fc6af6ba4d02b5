//! A developer of organization `a`, holding nothing but their own token, tries every trick of
//! the tenancy issue's findings on organization `b` (in-process against a real nats-server):
//! bodies an extra parser could not read, names in several spellings, a subscription turned
//! onto `b`'s function, `b`'s host, a namespace deleted and created again, cross-site writes.
//! Then a property test throws random request shapes at the API as `a` and checks that
//! nothing of `b` was read or changed.

mod support;

use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use support::{set_up, start, App, Fixtures, Who, ROOT};
use switchyard_broker::testing::NatsServer;

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

struct Tenant<'a> {
    app: &'a App,
    token: String,
}

impl Tenant<'_> {
    async fn send(&self, method: &str, uri: &str, body: &[u8]) -> (StatusCode, String) {
        self.app
            .raw(Some(&self.token), method, uri, &JSON, body.to_vec())
            .await
    }
}

async fn root_get(app: &App, uri: &str) -> Value {
    let (status, body) = app.raw(Some(ROOT), "GET", uri, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Everything of `b` the API shows the super-user (what an attack must leave as it was).
async fn b_as_it_is(app: &App) -> Vec<Value> {
    let mut function = root_get(app, "/system/function/fb.b-ns").await;
    function["invocationCount"] = Value::Null;
    vec![
        function,
        root_get(app, "/system/secrets?namespace=b-ns").await,
        root_get(app, "/system/subscriptions/sub-b").await,
        root_get(app, "/system/event-sources/hook-b").await,
        root_get(app, "/system/routes/rb?namespace=b-ns").await,
        root_get(app, "/system/namespace/b-ns").await,
        root_get(app, "/system/policies?organization=b").await,
        root_get(app, "/system/service-accounts?organization=b").await,
        root_get(app, "/system/hosts").await,
    ]
}

async fn setting_up(nats: &NatsServer) -> (App, Fixtures) {
    let app = start(nats).await;
    let fixtures = set_up(&app).await;
    (app, fixtures)
}

#[tokio::test]
async fn what_the_findings_did_no_longer_works() {
    let nats = NatsServer::start();
    let (app, fixtures) = setting_up(&nats).await;
    let mallory = Tenant {
        app: &app,
        token: fixtures.token(Who::DeveloperA).expect("token").to_string(),
    };
    let viewer = Tenant {
        app: &app,
        token: fixtures.token(Who::ViewerA).expect("token").to_string(),
    };
    let before = b_as_it_is(&app).await;

    // Finding 1: a body an extra JSON parser gave up on (200 nested arrays; a byte 0xFF).
    let deep = format!(
        r#"{{"service":"fb","namespace":"b-ns","envProcess":"cat /var/openfaas/secrets/sb","x":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let mut bad_utf8 =
        br#"{"service":"fb","namespace":"b-ns","envProcess":"env","labels":{"x":""#.to_vec();
    bad_utf8.extend_from_slice(&[0xFF, b'"', b'}', b'}']);
    for body in [deep.as_bytes().to_vec(), bad_utf8] {
        for method in ["PUT", "POST"] {
            let (status, text) = mallory.send(method, "/system/functions", &body).await;
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN,
                "{method} of b's function: {status} {text}"
            );
        }
        let (status, text) = mallory.send("POST", "/system/secrets", &body).await;
        assert!(
            status.is_client_error() && status != StatusCode::NOT_FOUND,
            "{status} {text}"
        );
    }
    let (status, _) = mallory
        .send(
            "POST",
            "/system/secrets",
            br#"{"name":"planted","namespace":"b-ns","value":"x","z":[[[[1]]]]}"#,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    let (status, _) = mallory
        .send(
            "POST",
            "/system/secrets",
            br#"{"name":"planted","namespace":"b-ns","value":"x"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Finding 2: the same target in other spellings.
    for (method, uri, body) in [
        (
            "DELETE",
            "/system/functions",
            json!({"functionName": "fb.b-ns"}),
        ),
        (
            "DELETE",
            "/system/functions?namespace=b-ns",
            json!({"functionName": "fb", "namespace": ""}),
        ),
        (
            "POST",
            "/system/scale-function/fb%2Eb-ns",
            json!({"replicas": 0}),
        ),
        (
            "POST",
            "/system/scale-function/fb",
            json!({"replicas": 0, "namespace": "b-ns"}),
        ),
        ("DELETE", "/system/routes/rb?namespace=b-ns", Value::Null),
        (
            "PUT",
            "/system/routes/rb",
            json!({"name": "rb", "namespace": "b-ns", "function": "fb", "path": "/b", "hosts": ["b.example.test"]}),
        ),
    ] {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (status, text) = mallory.send(method, uri, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {text}");
    }
    // `"namespace": ""` is the default namespace, for the check and the act alike.
    let (status, text) = mallory
        .send(
            "DELETE",
            "/system/functions",
            br#"{"functionName":"fb","namespace":""}"#,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("openfaas-fn"), "{text}");
    for uri in [
        "/system/jobs/job%2Db",
        "/system/jobs/job-b/result",
        "/system/jobs?function=fb%2Eb-ns",
    ] {
        let (status, text) = viewer.send("GET", uri, b"").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {text}");
    }
    let (status, _) = viewer.send("GET", "/system/jobs/no-such-job", b"").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an unknown id falls back to nothing"
    );
    let (status, listed) = viewer.send("GET", "/system/routes", b"").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        listed.contains("\"ra\"") && !listed.contains("\"rb\""),
        "{listed}"
    );

    // Finding 3: a subscription of a, turned onto b's function.
    let (status, text) = mallory
        .send(
            "PUT",
            "/system/subscriptions/sub-a",
            json!({"name": "sub-a", "function": "fb.b-ns", "filters": [], "reply": true})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert_eq!(
        root_get(&app, "/system/subscriptions/sub-a").await["function"],
        "fa.a-ns"
    );

    // Finding 4 (the API side): a source may not take a name the system uses.
    let (status, text) = mallory
        .send("POST", "/system/event-sources", json!({"name": "reply", "kind": "webhook", "namespace": "a-ns", "config": {"auth": {"none": true}}}).to_string().as_bytes())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, _) = mallory
        .send("POST", "/system/event-sources", json!({"name": "everyone", "kind": "webhook", "namespace": "a-ns", "sharedWith": ["*"], "config": {"auth": {"none": true}}}).to_string().as_bytes())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "sharing with everyone is for operators"
    );

    // Finding 5: b's host, no host at all, and the UI's paths in disguise.
    for (hosts, path) in [
        (json!(["b.example.test"]), "/x"),
        (json!([]), "/x"),
        (json!(["a.example.test"]), "//ui"),
        (json!(["a.example.test"]), "/a/../system"),
    ] {
        let route = json!({"name": "grab", "namespace": "a-ns", "function": "fa", "path": path, "pathMatch": "prefix", "hosts": hosts});
        let (status, text) = mallory
            .send("POST", "/system/routes", route.to_string().as_bytes())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hosts} {path}: {text}");
    }
    // An operator's catch-all (default organization, any host) does not answer b's host.
    let catch_all =
        json!({"name": "all", "function": "f0", "path": "/", "pathMatch": "prefix", "async": true});
    let (status, text) = app
        .raw(
            Some(ROOT),
            "POST",
            "/system/functions",
            &JSON,
            json!({"service": "f0", "envProcess": "cat"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let (status, text) = app
        .raw(
            Some(ROOT),
            "POST",
            "/system/routes",
            &JSON,
            catch_all.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, _) = app
        .raw(
            None,
            "POST",
            "/anything",
            &[("host", "unowned.example.test")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "an unowned host reaches the default organization's routes"
    );
    let (status, _) = app
        .raw(
            None,
            "POST",
            "/anything",
            &[("host", "b.example.test")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "b's host reaches only b's routes"
    );

    // Finding 12: what a cross-site page can send.
    let browser = ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0");
    for headers in [
        vec![browser, ("content-type", "text/plain")],
        vec![
            browser,
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        vec![
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        vec![
            ("content-type", "application/json"),
            ("sec-fetch-site", "cross-site"),
        ],
    ] {
        let (status, text) = app
            .raw(
                Some(ROOT),
                "POST",
                "/system/functions",
                &headers,
                json!({"service": "csrf", "envProcess": "cat"})
                    .to_string()
                    .into_bytes(),
            )
            .await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{headers:?}: {status} {text}"
        );
    }
    let (status, _) = app
        .raw(Some(ROOT), "GET", "/system/function/csrf", &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was deployed");

    // faas-netes: a name with a dot left after the namespace is no function.
    let (status, _) = app
        .raw(
            None,
            "POST",
            "/function/fb.b-ns.openfaas-fn",
            &[],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A cancel is a change: audited, whoever asked (here: refused, a chosen id needs the admin).
    let (status, _) = app
        .raw(None, "DELETE", "/async-function/job-a", &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Finding 11: the audit log names the target a refused change resolved to.
    let audit = root_get(&app, "/system/audit?limit=1000").await;
    let entries = audit.as_array().expect("entries");
    assert!(
        entries.iter().any(|e| e["outcome"] == "denied"
            && e["targets"].to_string().contains("function `fb.b-ns`")
            && e["who"].as_str().is_some_and(|w| w.contains("developer"))),
        "{audit}"
    );
    assert!(
        entries.iter().any(|e| e["who"] == "anonymous"
            && e["targets"].to_string().contains("cancel job `job-a`")
            && e["status"] == 401),
        "{audit}"
    );

    assert_eq!(b_as_it_is(&app).await, before, "b is as it was");
}

/// `b`'s schedule and delayed job: `a`'s developer can neither see nor change them, however the
/// function is spelled; `b`'s own view is unchanged.
#[tokio::test]
async fn b_schedules_and_delayed_jobs_are_out_of_reach() {
    let nats = NatsServer::start();
    let (app, fixtures) = setting_up(&nats).await;
    let mallory = Tenant {
        app: &app,
        token: fixtures.token(Who::DeveloperA).expect("token").to_string(),
    };
    let (status, answer) = app
        .root(
            "POST",
            "/system/functions",
            json!({"service": "nightly", "namespace": "b-ns", "envProcess": "cat",
                "annotations": {"topic": "cron-function", "schedule": "30 1 * * *"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, _) = app
        .raw(
            Some(ROOT),
            "POST",
            "/async-function/fb.b-ns",
            &[("x-delay", "1h"), ("x-call-id", "b-later")],
            b"later".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    for (method, uri) in [
        ("GET", "/system/schedules?namespace=b-ns"),
        ("GET", "/system/schedules/nightly.b-ns"),
        ("GET", "/system/schedules/nightly?namespace=b-ns"),
        ("GET", "/system/schedules/nightly%2Eb-ns"),
        ("POST", "/system/schedules/nightly.b-ns/pause"),
        ("POST", "/system/schedules/nightly%2eb-ns/pause"),
        ("POST", "/system/schedules/nightly/pause?namespace=b-ns"),
        ("GET", "/system/jobs/b-later"),
        ("GET", "/system/jobs?function=fb.b-ns&status=scheduled"),
    ] {
        let (status, text) = mallory.send(method, uri, b"").await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{method} {uri}: {status} {text}"
        );
        assert!(!text.contains("30 1 * * *"), "{method} {uri}: {text}");
    }
    let (status, own) = mallory
        .send("GET", "/system/schedules?namespace=a-ns", b"")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own, "[]");

    let schedules = root_get(&app, "/system/schedules?namespace=b-ns").await;
    assert_eq!(schedules[0]["function"], "nightly.b-ns", "{schedules}");
    assert_eq!(schedules[0]["paused"], false, "{schedules}");
    let job = root_get(&app, "/system/jobs/b-later").await;
    assert_eq!(job["status"], "scheduled", "{job}");
}

#[tokio::test]
async fn a_namespace_deleted_and_made_again_starts_empty() {
    let nats = NatsServer::start();
    let (app, _) = setting_up(&nats).await;
    // As the super-user: each change and the answer it must get.
    let step = |method: &'static str, uri: &'static str, body: Value, want: StatusCode| {
        let app = &app;
        async move {
            let (status, answer) = app.root(method, uri, body).await;
            assert_eq!(status, want, "{method} {uri}: {answer}");
        }
    };
    step(
        "POST",
        "/system/namespace/",
        json!({"name": "c-ns", "organization": "a"}),
        StatusCode::CREATED,
    )
    .await;
    step(
        "POST",
        "/system/functions",
        json!({"service": "fc", "namespace": "c-ns", "envProcess": "cat"}),
        StatusCode::ACCEPTED,
    )
    .await;
    step(
        "POST",
        "/system/hosts",
        json!({"host": "c.example.test", "organization": "a"}),
        StatusCode::CREATED,
    )
    .await;
    step("POST", "/system/routes", json!({"name": "rc", "namespace": "c-ns", "function": "fc", "path": "/c", "hosts": ["c.example.test"]}), StatusCode::CREATED).await;
    let (status, _) = app
        .raw(
            None,
            "POST",
            "/async-function/fc.c-ns",
            &[("x-call-id", "job-c")],
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    step(
        "DELETE",
        "/system/functions",
        json!({"functionName": "fc", "namespace": "c-ns"}),
        StatusCode::ACCEPTED,
    )
    .await;
    // A route still points into it.
    step(
        "DELETE",
        "/system/namespace/c-ns",
        Value::Null,
        StatusCode::CONFLICT,
    )
    .await;
    step(
        "DELETE",
        "/system/routes/rc?namespace=c-ns",
        Value::Null,
        StatusCode::NO_CONTENT,
    )
    .await;
    step(
        "DELETE",
        "/system/namespace/c-ns",
        Value::Null,
        StatusCode::ACCEPTED,
    )
    .await;

    // Organization b makes a namespace of that name: a's old job is not b's to read.
    step(
        "POST",
        "/system/namespace/",
        json!({"name": "c-ns", "organization": "b"}),
        StatusCode::CREATED,
    )
    .await;
    let (status, _) = app
        .raw(Some(ROOT), "GET", "/system/jobs/job-c", &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Spellings of `b`'s names, and values that look like them.
fn b_names() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "fb",
        "fb.b-ns",
        "fb%2Eb-ns",
        "fb%2eb-ns",
        "fb.b-ns.openfaas-fn",
        "fb.b-ns%00",
        "FB.b-ns",
        "fb%2Fb-ns",
        "b-ns",
        "B-NS",
        "",
        ".",
        "..",
        "fb.",
        ".b-ns",
        "sub-b",
        "hook-b",
        "rb",
        "b",
        "sb",
        "job-b",
        "tmp",
        "fa.b-ns",
        "fb.a-ns",
        "a-ns",
        "b-ns\u{0}",
        "b\u{2011}ns",
    ])
    .prop_map(str::to_string)
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "service",
        "functionName",
        "serviceName",
        "name",
        "namespace",
        "function",
        "organization",
        "value",
        "envProcess",
        "hosts",
        "path",
        "kind",
        "config",
        "replicas",
        "filters",
        "subjects",
        "role",
        "sharedWith",
        "labels",
        "unknown",
    ])
    .prop_map(str::to_string)
}

/// A JSON body written by hand, so that keys may repeat and values may nest.
fn body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        b_names().prop_map(|n| Value::String(n).to_string()),
        Just("[\"b.example.test\"]".to_string()),
        Just("{\"auth\":{\"none\":true}}".to_string()),
        Just("[[[[[1]]]]]".to_string()),
        Just("1".to_string()),
        Just("null".to_string()),
    ];
    prop::collection::vec((field(), value), 0..6).prop_map(|pairs| {
        let fields: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k)))
            .collect();
        format!("{{{}}}", fields.join(","))
    })
}

fn request() -> impl Strategy<Value = (String, String, String)> {
    let method =
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]).prop_map(str::to_string);
    let path = (
        prop::sample::select(vec![
            "/system/functions",
            "/system/function/{}",
            "/system/scale-function/{}",
            "/system/secrets",
            "/system/namespace/{}",
            "/system/namespace/",
            "/system/logs?name={}",
            "/system/subscriptions",
            "/system/subscriptions/{}",
            "/system/event-sources",
            "/system/event-sources/{}",
            "/system/routes",
            "/system/routes/{}",
            "/system/jobs/{}",
            "/system/jobs/{}/result",
            "/system/jobs?function={}",
            "/system/policies/b/{}",
            "/system/service-accounts/b/{}",
            "/system/service-accounts/b/{}/tokens",
            "/system/policies?organization={}",
            "/system/tokens/{}",
            "/system/hosts/{}",
        ]),
        b_names(),
        prop::option::of(b_names()),
    )
        .prop_map(|(template, name, namespace)| {
            let path = template.replace("{}", &name);
            match namespace {
                Some(ns) if path.contains('?') => format!("{path}&namespace={ns}"),
                Some(ns) => format!("{path}?namespace={ns}"),
                None => path,
            }
        });
    (method, path, body())
}

#[tokio::test]
async fn random_request_shapes_from_a_never_reach_b() {
    let nats = NatsServer::start();
    let (app, fixtures) = setting_up(&nats).await;
    let mallory = Tenant {
        app: &app,
        token: fixtures.token(Who::AdminA).expect("token").to_string(),
    };
    let before = b_as_it_is(&app).await;
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    let secrets_of_b = ["fb", "sub-b", "hook-b", "\"rb\"", "b-ns", "b.example.test"];
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..400 {
        let (method, path, body) = strategy.new_tree(&mut runner).expect("a case").current();
        let Ok(uri) = path.parse::<axum::http::Uri>() else {
            *answers.entry(0).or_default() += 1;
            continue;
        };
        let (status, answer) = mallory
            .send(&method, &uri.to_string(), body.as_bytes())
            .await;
        *answers.entry(status.as_u16()).or_default() += 1;
        if status.is_success() {
            // Whatever a succeeded, it read none of b's names.
            for name in secrets_of_b {
                assert!(
                    !answer.contains(name),
                    "{method} {path} {body} → {status}: {answer}"
                );
            }
        }
    }
    // The shapes reached every stage: refused as malformed, refused access, not found, done.
    for status in [400, 403, 404] {
        assert!(
            answers.get(&status).is_some_and(|n| *n >= 10),
            "{answers:?}"
        );
    }
    assert!(
        answers.keys().any(|s| (200..300).contains(s)),
        "{answers:?}"
    );
    assert_eq!(b_as_it_is(&app).await, before, "b is as it was");
}
