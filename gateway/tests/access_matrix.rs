//! The access matrix, generated from the OpenAPI document: every `/system` operation, asked by
//! every kind of caller (anonymous; a viewer, a developer and an admin of organization `a`; an
//! admin of organization `b`; the super-user) about a target of organization `a` and one of
//! organization `b`, gets the expected answer: 401, 403, or past authorization (anything
//! else). An operation the document has and this table lacks fails the test, so a new route
//! cannot ship without its row.
//!
//! The app is called in-process against a real nats-server ([`support`]). Before each case the fixtures are put back, so a change one case made
//! (a deleted subscription) does not turn the next case's 403 into a 404.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::json;
use switchyard_broker::testing::NatsServer;
use switchyard_gateway::openapi;

mod support;

use support::{call, set_up, start, Call, Fixtures, Org, Who};

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::ViewerA,
    Who::DeveloperA,
    Who::AdminA,
    Who::AdminB,
    Who::SuperUser,
];

/// What an operation takes.
#[derive(Debug, Clone, Copy)]
enum Needs {
    SignedIn,
    Read,
    Write,
    Admin,
    Operator,
}

/// The answer class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Unauthenticated,
    Forbidden,
    Passed,
}

fn expected(needs: Needs, who: Who, target: Org) -> Answer {
    use Answer::*;
    let own_org = match who {
        Who::ViewerA | Who::DeveloperA | Who::AdminA => target == Org::A,
        Who::AdminB => target == Org::B,
        _ => false,
    };
    let role_allows = match (needs, who) {
        (_, Who::Anonymous) => return Unauthenticated,
        (_, Who::SuperUser) | (Needs::SignedIn, _) => return Passed,
        (Needs::Operator, _) => return Forbidden,
        (Needs::Read, _) => true,
        (Needs::Write, Who::ViewerA) => false,
        (Needs::Write, _) => true,
        (Needs::Admin, Who::AdminA | Who::AdminB) => true,
        (Needs::Admin, _) => false,
    };
    if own_org && role_allows {
        Passed
    } else {
        Forbidden
    }
}

/// The lower-case letter of an organization, for names.
fn l(org: Org) -> &'static str {
    match org {
        Org::A => "a",
        Org::B => "b",
    }
}

/// The request for operation `method path` on a target of `org`, and what it needs; `None`
/// for an operation this table does not know.
fn case(method: &str, path: &str, org: Org, fixtures: &Fixtures) -> Option<(Needs, Call)> {
    let o = l(org);
    let ns = format!("{o}-ns");
    let f = format!("f{o}");
    let deployment = json!({"service": f, "namespace": ns, "envProcess": "cat"});
    let secret = json!({"name": format!("s{o}"), "namespace": ns, "value": "v"});
    let subscription = json!({"name": format!("sub-{o}"), "function": format!("{f}.{ns}"),
        "filters": [{"exact": {"type": "t"}}]});
    let source = json!({"name": format!("hook-{o}"), "kind": "webhook", "namespace": ns,
        "config": {"auth": {"none": true}}});
    let route = json!({"name": format!("r{o}"), "namespace": ns, "function": f, "path": format!("/{o}"), "hosts": [format!("{o}.example.test")]});
    let policy = json!({"name": "tmp", "organization": o, "subjects": ["serviceaccount:nobody"], "role": "viewer"});
    use Needs::*;
    let found = match (method, path) {
        ("get", "/system/info") => (SignedIn, call("GET", "/system/info", None)),
        ("get", "/system/metrics-targets") => {
            (Operator, call("GET", "/system/metrics-targets", None))
        }
        ("get", "/system/openapi.json") => (SignedIn, call("GET", "/system/openapi.json", None)),
        ("get", "/system/namespaces") => (SignedIn, call("GET", "/system/namespaces", None)),
        ("get", "/system/organizations") => (SignedIn, call("GET", "/system/organizations", None)),
        ("get", "/system/subscriptions") => (SignedIn, call("GET", "/system/subscriptions", None)),
        ("get", "/system/event-sources") => (SignedIn, call("GET", "/system/event-sources", None)),
        ("get", "/system/routes") => (
            Read,
            call("GET", format!("/system/routes?namespace={ns}"), None),
        ),

        ("get", "/system/functions") => (
            Read,
            call("GET", format!("/system/functions?namespace={ns}"), None),
        ),
        ("post", "/system/functions") => (
            Write,
            call(
                "POST",
                "/system/functions",
                Some(json!({"service": "new", "namespace": ns, "envProcess": "cat"})),
            ),
        ),
        ("put", "/system/functions") => (Write, call("PUT", "/system/functions", Some(deployment))),
        ("delete", "/system/functions") => (
            Write,
            call(
                "DELETE",
                "/system/functions",
                Some(json!({"functionName": f, "namespace": ns})),
            ),
        ),
        ("get", "/system/function/{name}") => (
            Read,
            call("GET", format!("/system/function/{f}.{ns}"), None),
        ),
        // Percent-encoded: the dot decoded is the namespace that is authorized.
        ("post", "/system/scale-function/{name}") => (
            Write,
            call(
                "POST",
                format!("/system/scale-function/{f}%2E{ns}"),
                Some(json!({"replicas": 1})),
            ),
        ),
        ("get", "/system/logs") => (
            Read,
            call("GET", format!("/system/logs?name={f}&namespace={ns}"), None),
        ),

        ("post", "/system/namespace/") => (
            Admin,
            call(
                "POST",
                "/system/namespace/",
                Some(json!({"name": format!("{o}-new"), "organization": o})),
            ),
        ),
        ("get", "/system/namespace/{name}") => {
            (Read, call("GET", format!("/system/namespace/{ns}"), None))
        }
        ("put", "/system/namespace/{name}") => (
            Admin,
            call(
                "PUT",
                format!("/system/namespace/{ns}"),
                Some(json!({"name": ns, "labels": {"x": "y"}})),
            ),
        ),
        ("delete", "/system/namespace/{name}") => (
            Admin,
            call("DELETE", format!("/system/namespace/{ns}"), None),
        ),

        ("get", "/system/secrets") => (
            Read,
            call("GET", format!("/system/secrets?namespace={ns}"), None),
        ),
        ("post", "/system/secrets") => (Write, call("POST", "/system/secrets", Some(secret))),
        ("put", "/system/secrets") => (Write, call("PUT", "/system/secrets", Some(secret))),
        ("delete", "/system/secrets") => (
            Write,
            call(
                "DELETE",
                "/system/secrets",
                Some(json!({"name": format!("s{o}"), "namespace": ns})),
            ),
        ),

        ("post", "/system/subscriptions") => (
            Write,
            call(
                "POST",
                "/system/subscriptions",
                Some(
                    json!({"name": format!("new-{o}"), "function": format!("{f}.{ns}"), "filters": []}),
                ),
            ),
        ),
        ("get", "/system/subscriptions/{name}") => (
            Read,
            call("GET", format!("/system/subscriptions/sub-{o}"), None),
        ),
        ("put", "/system/subscriptions/{name}") => (
            Write,
            call(
                "PUT",
                format!("/system/subscriptions/sub-{o}"),
                Some(subscription),
            ),
        ),
        ("delete", "/system/subscriptions/{name}") => (
            Write,
            call("DELETE", format!("/system/subscriptions/sub-{o}"), None),
        ),

        ("post", "/system/event-sources") => (
            Write,
            call(
                "POST",
                "/system/event-sources",
                Some(
                    json!({"name": format!("new-{o}"), "kind": "webhook", "namespace": ns, "config": {"auth": {"none": true}}}),
                ),
            ),
        ),
        ("get", "/system/event-sources/{name}") => (
            Read,
            call("GET", format!("/system/event-sources/hook-{o}"), None),
        ),
        ("put", "/system/event-sources/{name}") => (
            Write,
            call(
                "PUT",
                format!("/system/event-sources/hook-{o}"),
                Some(source),
            ),
        ),
        ("delete", "/system/event-sources/{name}") => (
            Write,
            call("DELETE", format!("/system/event-sources/hook-{o}"), None),
        ),

        ("get", "/system/schedules") => (
            Read,
            call("GET", format!("/system/schedules?namespace={ns}"), None),
        ),
        ("get", "/system/schedules/{function}") => (
            Read,
            call("GET", format!("/system/schedules/{f}.{ns}"), None),
        ),
        ("post", "/system/schedules/{function}/pause") => (
            Write,
            call("POST", format!("/system/schedules/{f}.{ns}/pause"), None),
        ),
        ("post", "/system/schedules/{function}/resume") => (
            Write,
            call("POST", format!("/system/schedules/{f}.{ns}/resume"), None),
        ),

        ("get", "/system/jobs") => (
            Read,
            call("GET", format!("/system/jobs?function={f}.{ns}"), None),
        ),
        ("get", "/system/jobs/{call_id}") => {
            (Read, call("GET", format!("/system/jobs/job-{o}"), None))
        }
        ("get", "/system/jobs/{call_id}/result") => (
            Read,
            call("GET", format!("/system/jobs/job-{o}/result"), None),
        ),

        ("post", "/system/routes") => (
            Write,
            call(
                "POST",
                "/system/routes",
                Some(
                    json!({"name": format!("n{o}"), "namespace": ns, "function": f, "path": format!("/new-{o}"), "hosts": [format!("{o}.example.test")]}),
                ),
            ),
        ),
        ("get", "/system/routes/{name}") => (
            Read,
            call("GET", format!("/system/routes/r{o}?namespace={ns}"), None),
        ),
        ("put", "/system/routes/{name}") => (
            Write,
            call("PUT", format!("/system/routes/r{o}"), Some(route)),
        ),
        ("delete", "/system/routes/{name}") => (
            Write,
            call(
                "DELETE",
                format!("/system/routes/r{o}?namespace={ns}"),
                None,
            ),
        ),

        ("get", "/system/policies") => (
            Admin,
            call("GET", format!("/system/policies?organization={o}"), None),
        ),
        ("post", "/system/policies") => (
            Admin,
            call(
                "POST",
                "/system/policies",
                Some(
                    json!({"name": "new", "organization": o, "subjects": ["user:x"], "role": "viewer"}),
                ),
            ),
        ),
        ("get", "/system/policies/{organization}/{name}") => (
            Admin,
            call("GET", format!("/system/policies/{o}/tmp"), None),
        ),
        ("put", "/system/policies/{organization}/{name}") => (
            Admin,
            call("PUT", format!("/system/policies/{o}/tmp"), Some(policy)),
        ),
        ("delete", "/system/policies/{organization}/{name}") => (
            Admin,
            call("DELETE", format!("/system/policies/{o}/tmp"), None),
        ),
        ("get", "/system/service-accounts") => (
            Admin,
            call(
                "GET",
                format!("/system/service-accounts?organization={o}"),
                None,
            ),
        ),
        ("post", "/system/service-accounts") => (
            Admin,
            call(
                "POST",
                "/system/service-accounts",
                Some(json!({"name": "new", "organization": o})),
            ),
        ),
        ("delete", "/system/service-accounts/{organization}/{name}") => (
            Admin,
            call("DELETE", format!("/system/service-accounts/{o}/tmp"), None),
        ),
        ("get", "/system/service-accounts/{organization}/{name}/tokens") => (
            Admin,
            call(
                "GET",
                format!("/system/service-accounts/{o}/tmp/tokens"),
                None,
            ),
        ),
        ("post", "/system/service-accounts/{organization}/{name}/tokens") => (
            Admin,
            call(
                "POST",
                format!("/system/service-accounts/{o}/tmp/tokens"),
                None,
            ),
        ),
        ("delete", "/system/tokens/{id}") => (
            Admin,
            call(
                "DELETE",
                format!("/system/tokens/{}", fixtures.tmp_token(org)),
                None,
            ),
        ),

        // Everyone's records, and the operators' settings.
        ("get", "/system/audit") => (Operator, call("GET", "/system/audit", None)),
        ("get", "/system/events/stream") => (Operator, call("GET", "/system/events/stream", None)),
        ("get", "/system/event-types") => (Operator, call("GET", "/system/event-types", None)),
        ("get", "/system/dead-letters") => (Operator, call("GET", "/system/dead-letters", None)),
        ("post", "/system/dead-letters/redrive") => (
            Operator,
            call(
                "POST",
                "/system/dead-letters/redrive?function=nothing",
                None,
            ),
        ),
        ("get", "/system/dead-letters/{id}") => {
            (Operator, call("GET", "/system/dead-letters/1", None))
        }
        ("delete", "/system/dead-letters/{id}") => {
            (Operator, call("DELETE", "/system/dead-letters/1", None))
        }
        ("post", "/system/dead-letters/{id}/redrive") => (
            Operator,
            call("POST", "/system/dead-letters/1/redrive", None),
        ),
        ("get", "/system/hosts") => (Operator, call("GET", "/system/hosts", None)),
        ("post", "/system/hosts") => (
            Operator,
            call(
                "POST",
                "/system/hosts",
                Some(json!({"host": format!("new.{o}.example.test"), "organization": o})),
            ),
        ),
        ("delete", "/system/hosts/{host}") => (
            Operator,
            call(
                "DELETE",
                format!("/system/hosts/new.{o}.example.test"),
                None,
            ),
        ),
        ("get", "/system/certificates") => (Operator, call("GET", "/system/certificates", None)),
        ("post", "/system/certificates") => (
            Operator,
            call(
                "POST",
                "/system/certificates",
                Some(json!({"name": "c", "certificate": "", "privateKey": ""})),
            ),
        ),
        ("delete", "/system/certificates/{name}") => {
            (Operator, call("DELETE", "/system/certificates/c", None))
        }
        // The bootstrap super-user's (no organization admin is an operator here).
        ("post", "/system/organizations") => (
            Operator,
            call("POST", "/system/organizations", Some(json!({"name": "z"}))),
        ),
        ("delete", "/system/organizations/{name}") => (
            Operator,
            call("DELETE", format!("/system/organizations/{o}"), None),
        ),
        _ => return None,
    };
    Some(found)
}

/// Every operation of the document under `/system`, as (method, path).
fn documented_operations() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(openapi()).expect("serializes");
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/system") {
            continue;
        }
        for method in ["get", "post", "put", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                operations.insert((method.to_string(), path.clone()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_operation_answers_every_caller_as_the_matrix_says() {
    let nats = NatsServer::start();
    let app = start(&nats).await;
    let fixtures = set_up(&app).await;
    let operations = documented_operations();
    assert!(operations.len() >= 60, "{} operations", operations.len());
    let missing: Vec<String> = operations
        .iter()
        .filter(|(method, path)| case(method, path, Org::A, &fixtures).is_none())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the access matrix: {missing:?}"
    );

    let mut wrong = Vec::new();
    let mut cases = 0;
    for (method, path) in &operations {
        for target in [Org::A, Org::B] {
            for who in EVERYONE {
                // Reads change nothing; after a change, the fixtures are put back.
                if method != "get" {
                    app.ensure_fixtures().await;
                }
                let (needs, request) = case(method, path, target, &fixtures).expect("a row");
                let answer = match app.send(fixtures.token(who), &request).await {
                    StatusCode::UNAUTHORIZED => Answer::Unauthenticated,
                    StatusCode::FORBIDDEN => Answer::Forbidden,
                    _ => Answer::Passed,
                };
                let want = expected(needs, who, target);
                cases += 1;
                if answer != want {
                    wrong.push(format!(
                        "{method} {} as {who:?} on {target:?}: {answer:?}, expected {want:?}",
                        request.uri
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cases} cases answered wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
