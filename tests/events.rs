//! Subscriptions and the event router end to end: real nats-server, real functions, events
//! published to `SY_EVENTS` by a real NATS producer.
//!
//! Over 400 lines on purpose: one file holds every end-to-end scenario of one path, so that
//! its set-up and helpers are read once; each test is one scenario.

mod common;

use std::time::Duration;

use common::{deliveries, line_count, recorder, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::{json, Value};
use switchyard_broker::jobs::DeadLetter;

const WAIT: Duration = Duration::from_secs(30);

/// Publishes a structured-mode CloudEvent as an event source would.
async fn publish(nats: &Nats, event: Value) {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    let ty = event["type"].as_str().expect("type").to_string();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("content-type", "application/cloudevents+json");
    let id = switchyard_broker::events::message_id(
        "test",
        event["source"].as_str().unwrap_or_default(),
        event["id"].as_str().unwrap_or_default(),
    );
    switchyard_broker::headers::set_msg_id(&mut headers, &id);
    js.publish_with_headers(
        switchyard_broker::events::subject(&ty),
        headers,
        serde_json::to_vec(&event).expect("json").into(),
    )
    .await
    .expect("published")
    .await
    .expect("stored");
}

async fn subscribe(api: &common::Api, body: Value) {
    let response = api
        .admin(Method::POST, "/system/subscriptions")
        .json(&body)
        .send()
        .await
        .expect("answers");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn subscriptions_api_validates_and_manages_subscriptions() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("sink", "cat", json!({})).await;
    let cases = [
        (
            json!({"name": "s", "function": "missing"}),
            "function `missing` not found",
        ),
        (
            json!({"name": "s", "function": "sink", "filters": [{"exact": {"Type": "x"}}]}),
            "filters[0].exact",
        ),
        (
            json!({"name": "s", "function": "sink", "filters": [{"regex": {"type": "x"}}]}),
            "unknown variant `regex`",
        ),
        (
            json!({"name": "s", "function": "sink", "delivery": {"timeout": "30 seconds"}}),
            "delivery.timeout",
        ),
        (
            json!({"name": "s", "function": "sink", "delivery": {"delay": "soon"}}),
            "delivery.delay",
        ),
        (
            json!({"name": "s", "function": "sink", "delivery": {"delay": "PT9000H"}}),
            "`delivery.delay`: `PT9000H` is longer than the limit",
        ),
        (
            json!({"name": "s", "function": "sink", "startAt": "tomorrow"}),
            "startAt must be",
        ),
        (json!({"name": "bad.name", "function": "sink"}), "`name`"),
    ];
    for (body, message) in cases {
        let response = api
            .admin(Method::POST, "/system/subscriptions")
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.expect("body");
        assert!(text.contains(message), "{body}: {text}");
    }
    let sub = json!({"name": "s1", "function": "sink", "filters": [{"prefix": {"type": "com.example."}}]});
    subscribe(&api, sub.clone()).await;
    let again = api
        .admin(Method::POST, "/system/subscriptions")
        .json(&sub)
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), 409);
    let got: Value = api
        .admin(Method::GET, "/system/subscriptions/s1")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(got["filters"], sub["filters"]);
    assert_eq!(got["startAt"], "new");
    let mut changed = sub.clone();
    changed["reply"] = json!(true);
    let put = api
        .admin(Method::PUT, "/system/subscriptions/s1")
        .json(&changed)
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 200);
    let list: Vec<Value> = api
        .admin(Method::GET, "/system/subscriptions")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["reply"], true);
    assert_eq!(
        api.admin(Method::DELETE, "/system/subscriptions/s1")
            .send()
            .await
            .expect("answers")
            .status(),
        204
    );
    assert_eq!(
        api.admin(Method::GET, "/system/subscriptions/s1")
            .send()
            .await
            .expect("answers")
            .status(),
        404
    );
}

#[tokio::test]
async fn matching_events_reach_functions_with_every_attribute_once() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("events");
    let (vm_out, topic_out, none_out) = (dir.0.join("vm"), dir.0.join("topic"), dir.0.join("none"));
    api.deploy_ready("vm-handler", &recorder(&dir.0, &vm_out), json!({}))
        .await;
    api.deploy_with(
        "topic-handler",
        &recorder(&dir.0, &topic_out),
        json!({}),
        json!({"topic": "VmPoweredOnEvent, other"}),
    )
    .await;
    api.deploy_ready("never", &recorder(&dir.0, &none_out), json!({}))
        .await;
    subscribe(&api, json!({"name": "vm-off", "function": "vm-handler",
        "filters": [{"exact": {"type": "com.vmware.vsphere.VmPoweredOffEvent.v0"}}, {"not": {"prefix": {"subject": "Test"}}}]})).await;
    subscribe(&api, json!({"name": "nothing", "function": "never", "filters": [{"exact": {"type": "no.such.type"}}]})).await;

    let off = json!({"specversion": "1.0", "id": "42", "source": "/vcenter/sdk", "type": "com.vmware.vsphere.VmPoweredOffEvent.v0",
        "subject": "Größe 100% \"off\"", "eventclass": "VmPoweredOffEvent", "datacontenttype": "application/json", "data": {"vm": "web-1"}});
    publish(&nats, off.clone()).await;
    publish(&nats, off.clone()).await; // a producer's retry: the same event
    publish(&nats, json!({"specversion": "1.0", "id": "43", "source": "/vcenter/sdk", "type": "com.vmware.vsphere.VmPoweredOffEvent.v0", "subject": "TestVm"})).await;
    publish(&nats, json!({"specversion": "1.0", "id": "44", "source": "/vcenter/sdk", "type": "com.vmware.vsphere.VmPoweredOnEvent.v0", "subject": "VmPoweredOnEvent"})).await;

    common::eventually(WAIT, "the power-off delivery", || async {
        deliveries(&vm_out).len() == 1
    })
    .await;
    common::eventually(WAIT, "the topic delivery", || async {
        deliveries(&topic_out).len() == 1
    })
    .await;
    common::drained(&nats, WAIT).await;
    let vm = deliveries(&vm_out);
    assert_eq!(
        vm.len(),
        1,
        "one delivery per event and subscription: {vm:?}"
    );
    let body = format!("body={}", common::hex(br#"{"vm":"web-1"}"#));
    for expected in [
        "Http_Ce_Id=42",
        "Http_Ce_Source=/vcenter/sdk",
        "Http_Ce_Specversion=1.0",
        "Http_Ce_Type=com.vmware.vsphere.VmPoweredOffEvent.v0",
        "Http_Ce_Subject=Gr%C3%B6%C3%9Fe%20100%25%20%22off%22",
        "Http_Ce_Eventclass=VmPoweredOffEvent",
        "Http_Content_Type=application/json",
        body.as_str(),
    ] {
        assert!(
            vm[0].lines().any(|l| l == expected),
            "{expected} missing from:\n{}",
            vm[0]
        );
    }
    assert!(deliveries(&topic_out)[0].contains("Http_Ce_Id=44"));
    assert_eq!(line_count(&none_out), 0);
}

/// `delivery.delay`: each event is delivered once, no sooner than the delay after it was
/// stored (bad delays: in the validation test above).
#[tokio::test]
async fn a_delayed_subscription_delivers_each_event_after_its_delay() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("delayed-events");
    let out = dir.0.join("later");
    api.deploy_ready("later", &recorder(&dir.0, &out), json!({}))
        .await;
    subscribe(
        &api,
        json!({"name": "later", "function": "later",
        "filters": [{"exact": {"type": "order.placed"}}], "delivery": {"delay": "PT3S"}}),
    )
    .await;

    let published = std::time::Instant::now();
    publish(
        &nats,
        json!({"specversion": "1.0", "id": "o-1", "source": "/shop", "type": "order.placed"}),
    )
    .await;
    common::eventually(WAIT, "the delayed delivery", || async {
        deliveries(&out).len() == 1
    })
    .await;
    let waited = published.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "delivered after {waited:?}"
    );
    common::drained(&nats, WAIT).await;
    assert_eq!(deliveries(&out).len(), 1);
    assert!(deliveries(&out)[0].contains("Http_Ce_Id=o-1"));
}

#[tokio::test]
async fn a_subscription_with_a_start_time_replays_retained_events() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("replay");
    let out = dir.0.join("out");
    api.deploy_ready("late", &recorder(&dir.0, &out), json!({}))
        .await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    for id in ["r1", "r2", "r3"] {
        publish(
            &nats,
            json!({"specversion": "1.0", "id": id, "source": "/replay", "type": "replay.me"}),
        )
        .await;
    }
    subscribe(&api, json!({"name": "late-sub", "function": "late", "filters": [{"exact": {"type": "replay.me"}}],
        "startAt": before.to_rfc3339()})).await;
    common::eventually(WAIT, "three replayed events", || async {
        deliveries(&out).len() == 3
    })
    .await;
}

#[tokio::test]
async fn replies_chain_functions_and_loops_stop_at_the_hop_limit() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("chain");
    let (b_out, loop_runs) = (dir.0.join("b"), dir.0.join("loop"));
    let reply_env = json!({"content_type": "application/cloudevents+json"});
    let a = common::script(
        &dir.0,
        "a.sh",
        r#"printf '{"specversion":"1.0","id":"from-a-%s","source":"/fn/a","type":"b.trigger","data":"hello b"}' "$Http_Ce_Id""#,
    );
    api.deploy_ready("fn-a", &a, reply_env.clone()).await;
    api.deploy_ready("fn-b", &recorder(&dir.0, &b_out), json!({}))
        .await;
    let looper = common::script(
        &dir.0,
        "loop.sh",
        &format!(
            r#"echo run >> {}; printf '{{"specversion":"1.0","id":"%s","source":"/fn/loop","type":"loop.trigger"}}' "$(date +%s%N)""#,
            loop_runs.display()
        ),
    );
    api.deploy_ready("fn-loop", &looper, reply_env).await;
    subscribe(&api, json!({"name": "a-sub", "function": "fn-a", "filters": [{"exact": {"type": "a.trigger"}}], "reply": true})).await;
    subscribe(
        &api,
        json!({"name": "b-sub", "function": "fn-b", "filters": [{"exact": {"type": "b.trigger"}}]}),
    )
    .await;
    subscribe(&api, json!({"name": "loop-sub", "function": "fn-loop", "filters": [{"exact": {"type": "loop.trigger"}}], "reply": true})).await;

    publish(
        &nats,
        json!({"specversion": "1.0", "id": "start-1", "source": "/test", "type": "a.trigger"}),
    )
    .await;
    common::eventually(WAIT, "B triggered by A's reply", || async {
        deliveries(&b_out).len() == 1
    })
    .await;
    let b = &deliveries(&b_out)[0];
    assert!(b.contains("Http_Ce_Id=from-a-start-1"), "{b}");
    assert!(b.contains("Http_Ce_Syhops=1"), "{b}");

    publish(&nats, json!({"specversion": "1.0", "id": "loop-start", "source": "/test", "type": "loop.trigger"})).await;
    let runs = (switchyard_broker::events::MAX_HOPS + 1) as usize;
    common::eventually(WAIT, "the loop to run up to the hop limit", || async {
        line_count(&loop_runs) >= runs
    })
    .await;
    common::drained(&nats, WAIT).await;
    assert_eq!(
        line_count(&loop_runs),
        runs,
        "the loop did not stop at the hop limit"
    );
}

#[tokio::test]
async fn failed_deliveries_end_in_sy_dead_with_the_error() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("dead");
    api.deploy_ready(
        "always-fails",
        &common::script(&dir.0, "fail.sh", "echo broken >&2; exit 1"),
        json!({}),
    )
    .await;
    let port = common::free_port();
    let rejecter = dir.0.join("reject.py");
    std::fs::write(
        &rejecter,
        format!(
            "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_POST(self):\n        self.send_response(400); self.end_headers(); self.wfile.write(b'bad event')\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
        ),
    )
    .expect("write");
    api.deploy_ready(
        "rejects",
        &format!("/usr/bin/python3 {}", rejecter.display()),
        json!({"mode": "http", "upstream_url": format!("http://127.0.0.1:{port}")}),
    )
    .await;
    subscribe(&api, json!({"name": "fails-sub", "function": "always-fails", "filters": [{"exact": {"type": "doomed"}}],
        "delivery": {"retry": 1, "backoffPolicy": "linear", "backoffDelay": "PT0.1S"}})).await;
    subscribe(&api, json!({"name": "rejects-sub", "function": "rejects", "filters": [{"exact": {"type": "doomed"}}],
        "delivery": {"retry": 5, "backoffDelay": "PT0.1S"}})).await;
    publish(
        &nats,
        json!({"specversion": "1.0", "id": "d1", "source": "/test", "type": "doomed"}),
    )
    .await;

    let client = async_nats::connect(nats.url()).await.expect("connects");
    let dead = async_nats::jetstream::new(client);
    for (function, status, attempts) in [("always-fails", 500, 2), ("rejects", 400, 1)] {
        let subject = switchyard_broker::subjects::dead(function);
        common::eventually(WAIT, &format!("a dead letter for {function}"), || async {
            match dead.get_stream("SY_DEAD").await {
                Ok(stream) => stream
                    .get_last_raw_message_by_subject(&subject)
                    .await
                    .is_ok(),
                Err(_) => false,
            }
        })
        .await;
        let stream = dead.get_stream("SY_DEAD").await.expect("SY_DEAD");
        let message = stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .expect("a dead letter");
        let letter = DeadLetter::from_message(&message.subject, Some(&message.headers))
            .expect("a readable dead letter");
        assert_eq!(
            (letter.status, letter.attempts),
            (status, attempts),
            "{function}"
        );
        assert!(!letter.error.is_empty(), "{function}");
    }
}

#[tokio::test]
async fn an_event_posted_right_after_its_subscription_is_answered_is_delivered_once() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("events-race");
    let out = dir.0.join("out");
    api.deploy_ready("sink", &recorder(&dir.0, &out), json!({}))
        .await;
    let source = api
        .create_source(
            json!({"name": "race", "kind": "webhook", "config": {"auth": {"none": true}}}),
        )
        .await;
    assert_eq!(source.status(), 201);
    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        subscribe(
            &api,
            json!({"name": format!("race-{round}"), "function": "sink",
            "filters": [{"exact": {"type": format!("race.{round}")}}]}),
        )
        .await;
        let posted = api
            .post_event(
                "race",
                ("/race", &format!("e{round}"), &format!("race.{round}")),
                format!("{round}"),
            )
            .await;
        assert_eq!(posted.status(), 202, "round {round}");
    }
    common::eventually(WAIT, "every event delivered", || async {
        deliveries(&out).len() >= ROUNDS
    })
    .await;
    common::drained(&nats, WAIT).await;
    let mut ids: Vec<String> = deliveries(&out)
        .iter()
        .filter_map(|d| {
            d.lines()
                .find_map(|l| l.strip_prefix("Http_Ce_Id="))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(ids.len(), ROUNDS, "one delivery per event: {ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ROUNDS, "no event twice");
}

#[tokio::test]
async fn an_event_posted_right_after_a_topic_function_is_deployed_reaches_it() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("topic-race");
    let out = dir.0.join("out");
    let record = recorder(&dir.0, &out);
    let source = api
        .create_source(
            json!({"name": "race", "kind": "webhook", "config": {"auth": {"none": true}}}),
        )
        .await;
    assert_eq!(source.status(), 201);
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let deployed = api
            .deploy(
                json!({"service": format!("topic-{round}"), "envProcess": record,
                "annotations": {"topic": format!("race.topic.{round}")}}),
            )
            .await;
        assert_eq!(deployed.status(), 202);
        let posted = api
            .post_event(
                "race",
                (
                    "/race",
                    &format!("t{round}"),
                    &format!("race.topic.{round}"),
                ),
                "x",
            )
            .await;
        assert_eq!(posted.status(), 202, "round {round}");
    }
    common::eventually(WAIT, "every event delivered", || async {
        deliveries(&out).len() >= ROUNDS
    })
    .await;
    common::drained(&nats, WAIT).await;
    assert_eq!(deliveries(&out).len(), ROUNDS, "one delivery per event");
}
