//! The vCenter event source against a real vcsim: our SOAP client, then VM power operations
//! flowing to subscribed functions, across expired sessions and poller restarts.
//!
//! Over 400 lines on purpose: one file holds every end-to-end scenario of one path, so that
//! its set-up and helpers are read once; each test is one scenario.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::vcsim::{self, Vcsim, VcsimOptions};
use common::{body_of, deliveries, recorder, Nats, Switchyard, TempDir};
use reqwest::Method;
use serde_json::{json, Value};
use switchyard_event_sources::vcenter::soap::{Client, MoRef, SoapErrorKind};

const WAIT: Duration = Duration::from_secs(60);

async fn create_source(api: &common::Api, name: &str, config: Value) {
    let response = api
        .admin(Method::POST, "/system/event-sources")
        .json(&json!({"name": name, "kind": "vcenter", "config": config}))
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

async fn source(api: &common::Api, name: &str) -> Value {
    api.admin(Method::GET, &format!("/system/event-sources/{name}"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

async fn wait_running(api: &common::Api, name: &str) {
    common::eventually(WAIT, "the vCenter source to run", || async {
        source(api, name).await["status"]["state"] == "running"
    })
    .await;
}

/// Every vSphere event stored in SY_EVENTS: (type, id, CloudEvent headers, payload).
async fn stored_events(nats: &Nats) -> Vec<(String, String, HashMap<String, String>, Vec<u8>)> {
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SY_EVENTS").await.expect("stream");
    let state = stream.info().await.expect("info").state.clone();
    let mut events = Vec::new();
    if state.messages == 0 {
        return events;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let vsphere = switchyard_broker::events::subject("com.vmware.vsphere");
        if !message.subject.starts_with(&format!("{vsphere}.")) {
            continue;
        }
        let headers: HashMap<String, String> = message
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.first().map(|v| v.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        events.push((
            headers.get("ce-type").cloned().unwrap_or_default(),
            headers.get("ce-id").cloned().unwrap_or_default(),
            headers,
            message.payload.to_vec(),
        ));
    }
    events
}

/// The power events vcsim itself reports (from a fresh collector's page) created since
/// `since`, as (type, key).
async fn reported_power_events(
    client: &Client,
    since: chrono::DateTime<chrono::Utc>,
) -> HashSet<(String, String)> {
    let collector = client
        .create_collector_for_events(None)
        .await
        .expect("collector");
    client
        .set_collector_page_size(&collector, 1000)
        .await
        .expect("page size");
    client.create_filter(&collector).await.expect("filter");
    let update = client
        .wait_for_updates_ex("", Duration::from_secs(5))
        .await
        .expect("page")
        .expect("an initial page");
    let _ = client.destroy_collector(&collector).await;
    update
        .pages
        .iter()
        .flatten()
        .filter(|e| {
            matches!(
                e.xsi_type.as_deref(),
                Some("VmPoweredOffEvent" | "VmPoweredOnEvent")
            )
        })
        .filter(|e| {
            e.child_text("createdTime")
                .and_then(switchyard_event_sources::vcenter::soap::parse_time)
                .is_some_and(|t| t >= since)
        })
        .map(|e| {
            (
                format!(
                    "com.vmware.vsphere.{}.v0",
                    e.xsi_type.clone().unwrap_or_default()
                ),
                e.child_text("key").unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Waits until SY_EVENTS holds every event in `expected`; fails with the missing ones.
async fn wait_stored(nats: &Nats, expected: &HashSet<(String, String)>) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let stored: HashSet<(String, String)> = stored_events(nats)
            .await
            .into_iter()
            .map(|e| (e.0, e.1))
            .collect();
        let missing: Vec<_> = expected.difference(&stored).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} events never stored: {missing:?}",
            missing.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Powers each VM off then on, `rounds` times, pausing between operations.
async fn power_cycle(
    client: &Client,
    machines: &[(String, MoRef)],
    rounds: usize,
    pause: Duration,
) -> usize {
    let mut operations = 0;
    for _ in 0..rounds {
        for (_, vm) in machines {
            vcsim::power(client, vm, false).await;
            tokio::time::sleep(pause).await;
            vcsim::power(client, vm, true).await;
            tokio::time::sleep(pause).await;
            operations += 2;
        }
    }
    operations
}

#[tokio::test]
async fn soap_client_logs_in_verifies_tls_and_types_faults() {
    let sim = Vcsim::start(VcsimOptions::default());

    let client = sim.client().await;
    assert!(
        client.service_content().api_version.starts_with('6'),
        "{:?}",
        client.service_content()
    );
    let now = client.current_time().await.expect("current time");
    assert!((chrono::Utc::now() - now).num_seconds().abs() < 60);
    let collector = client
        .create_collector_for_events(None)
        .await
        .expect("collector");
    client
        .set_collector_page_size(&collector, 50)
        .await
        .expect("page size");
    let events = client.read_next_events(&collector, 50).await.expect("read");
    assert!(!events.is_empty(), "vcsim's inventory creation left events");
    client.destroy_collector(&collector).await.expect("destroy");
    let gone = client
        .set_collector_page_size(&collector, 10)
        .await
        .expect_err("destroyed");
    assert_eq!(gone.kind(), SoapErrorKind::ManagedObjectNotFound, "{gone}");
    client.logout().await;
    let ended = client
        .create_collector_for_events(None)
        .await
        .expect_err("logged out");
    assert_eq!(ended.kind(), SoapErrorKind::NotAuthenticated, "{ended}");

    let fresh = Client::connect(&sim.options()).await.expect("connects");
    let refused = fresh
        .login(vcsim::USER, "wrong")
        .await
        .expect_err("bad password");
    assert_eq!(refused.kind(), SoapErrorKind::InvalidLogin, "{refused}");

    // Without the simulator's CA the certificate is refused; insecure mode accepts it.
    let untrusted = Client::connect(&sim.options().ca_file(None))
        .await
        .err()
        .expect("untrusted certificate");
    assert_eq!(untrusted.kind(), SoapErrorKind::Transport, "{untrusted}");
    assert!(
        untrusted.to_string().to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    // The CA given as PEM (what a tenant, who may not name a file on the server, sends).
    let pem = std::fs::read_to_string(&sim.ca_file).expect("the simulator's CA");
    Client::connect(&sim.options().ca_file(None).ca_pem(Some(pem)))
        .await
        .expect("trusts the CA given as PEM");
    // Where the network policy denies the vCenter's address, nothing is sent there.
    let mut denied = sim.options().ca_file(None);
    denied.networks = switchyard_broker::networks::NetworkPolicy {
        allow: Vec::new(),
        deny: switchyard_broker::networks::parse_list("127.0.0.0/8").expect("networks"),
    };
    let refused = Client::connect(&denied)
        .await
        .err()
        .expect("denied by policy");
    assert!(refused.to_string().contains("127.0.0.0/8"), "{refused}");
    let insecure = Client::connect(&sim.options().ca_file(None).insecure(true))
        .await
        .expect("insecure mode");
    insecure
        .login(vcsim::USER, vcsim::PASSWORD)
        .await
        .expect("logs in");
}

#[tokio::test]
async fn vm_power_events_reach_subscribed_functions_with_the_vmware_mapping() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("vcenter");
    let (off_out, on_out) = (dir.0.join("off"), dir.0.join("on"));
    api.deploy_ready("vm-off", &recorder(&dir.0, &off_out), json!({}))
        .await;
    api.deploy_with(
        "vm-on",
        &recorder(&dir.0, &on_out),
        json!({}),
        json!({"topic": "VmPoweredOnEvent"}),
    )
    .await;
    api.subscribe(json!({"name": "off", "function": "vm-off",
        "filters": [{"exact": {"type": "com.vmware.vsphere.VmPoweredOffEvent.v0"}}]}))
        .await;
    create_source(&api, "vc1", sim.source_config()).await;
    wait_running(&api, "vc1").await;

    let client = sim.client().await;
    let machines = vcsim::virtual_machines(&client).await;
    let (name, vm) = &machines[0];
    vcsim::power(&client, vm, false).await;
    vcsim::power(&client, vm, true).await;

    common::eventually(WAIT, "the power-off and power-on deliveries", || async {
        deliveries(&off_out).len() == 1 && deliveries(&on_out).len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let off = deliveries(&off_out);
    let on = deliveries(&on_out);
    assert_eq!(
        (off.len(), on.len()),
        (1, 1),
        "exactly one of each: {off:?} {on:?}"
    );
    let source_header = format!("Http_Ce_Source={}", sim.url.replace(':', "%3A"));
    for expected in [
        "Http_Ce_Type=com.vmware.vsphere.VmPoweredOffEvent.v0",
        "Http_Ce_Subject=VmPoweredOffEvent",
        "Http_Ce_Eventclass=event",
        "Http_Ce_Vsphereapiversion=6.5",
        "Http_Content_Type=application/json",
    ] {
        assert!(
            off[0].lines().any(|l| l == expected),
            "{expected} missing:\n{}",
            off[0]
        );
    }
    assert!(
        off[0]
            .lines()
            .any(|l| l == source_header || l == format!("Http_Ce_Source={}", sim.url)),
        "{source_header} missing:\n{}",
        off[0]
    );
    assert!(
        off[0].lines().any(|l| l.starts_with("Http_Ce_Time=")),
        "{}",
        off[0]
    );
    let data: Value = serde_json::from_slice(&body_of(&off[0])).expect("JSON data");
    assert_eq!(data["Vm"]["Name"], name.as_str(), "{data}");
    assert_eq!(data["Vm"]["Vm"]["Value"], vm.value.as_str(), "{data}");
    let key = data["Key"].as_i64().expect("numeric key");
    assert!(
        off[0].lines().any(|l| l == format!("Http_Ce_Id={key}")),
        "{}",
        off[0]
    );
    assert!(
        on[0].contains("Http_Ce_Type=com.vmware.vsphere.VmPoweredOnEvent.v0"),
        "{}",
        on[0]
    );

    let shown = source(&api, "vc1").await;
    assert!(!shown.to_string().contains(vcsim::PASSWORD), "{shown}");
    assert_eq!(shown["status"]["state"], "running", "{shown}");
    common::eventually(WAIT, "the status to count the events", || async {
        source(&api, "vc1").await["status"]["eventsPublished"].as_u64() >= Some(2)
    })
    .await;
    let metrics = api
        .admin(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("switchyard_vcenter_events_published_total{source=\"vc1\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unknown_event_class_is_published_with_the_generic_mapping() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    create_source(&api, "vc1", sim.source_config()).await;
    wait_running(&api, "vc1").await;

    let client = sim.client().await;
    vcsim::post_event_ex(&client, "com.example.NeverSeenBefore").await;
    let machines = vcsim::virtual_machines(&client).await;
    vcsim::power(&client, &machines[0].1, false).await;

    let wanted = "com.vmware.vsphere.com.example.NeverSeenBefore.v0";
    common::eventually(WAIT, "the unknown event and the one after it", || async {
        let stored = stored_events(&nats).await;
        stored.iter().any(|e| e.0 == wanted)
            && stored
                .iter()
                .any(|e| e.0 == "com.vmware.vsphere.VmPoweredOffEvent.v0")
    })
    .await;
    let stored = stored_events(&nats).await;
    let (_, _, headers, payload) = stored.iter().find(|e| e.0 == wanted).expect("stored");
    assert_eq!(
        headers.get("ce-eventclass").map(String::as_str),
        Some("eventex")
    );
    assert_eq!(
        headers.get("ce-subject").map(String::as_str),
        Some("com.example.NeverSeenBefore")
    );
    let data: Value = serde_json::from_slice(payload).expect("JSON");
    assert_eq!(data["EventTypeId"], "com.example.NeverSeenBefore", "{data}");
    // Its XML type, EventEx, is in the schema: typed as govmomi decodes it. An XML type the
    // schema lacks (read schema-free, `schemaless`) cannot come from a vcsim built from the same
    // govmomi; the unit tests of `vcenter::event` read one from a SOAP page.
    assert_eq!(
        headers.get("ce-vspheremapping").map(String::as_str),
        Some("typed")
    );
    assert_eq!(
        data["Arguments"],
        Value::Null,
        "an absent slice is null, as in Go"
    );
}

#[tokio::test]
async fn an_expiring_session_is_renewed_and_loses_nothing() {
    let sim = Vcsim::start(VcsimOptions {
        session_idle: Some(Duration::from_millis(1500)),
        ..VcsimOptions::default()
    });
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    // Each wait (3 s) outlives the session (1.5 s idle): sessions expire all the time.
    let mut config = sim.source_config();
    config["pollInterval"] = json!("PT3S");
    create_source(&api, "vc1", config).await;
    wait_running(&api, "vc1").await;

    let since = sim.client().await.current_time().await.expect("time");
    let mut operations = 0;
    for _ in 0..3 {
        // A burst, then a pause longer than the session's idle time: the poller's session
        // expires while it waits, and the next burst must reach it through a new one.
        let client = sim.client().await;
        let machines = vcsim::virtual_machines(&client).await;
        operations += power_cycle(&client, &machines[..2], 1, Duration::from_millis(100)).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let expected = reported_power_events(&sim.client().await, since).await;
    assert!(
        expected.len() >= operations,
        "vcsim reports {} of {operations}",
        expected.len()
    );

    wait_stored(&nats, &expected).await;
    let stored = stored_events(&nats).await;
    let ids: Vec<&String> = stored.iter().map(|e| &e.1).collect();
    let unique: HashSet<&&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "an event was stored twice");
    let status = source(&api, "vc1").await["status"].clone();
    assert!(
        status["reconnects"].as_u64() >= Some(1),
        "sessions expired, so it logged in again: {status}"
    );
}

#[tokio::test]
async fn a_restarted_poller_stores_each_event_once_and_loses_none() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let url = nats.url();
    let gateway = Switchyard::start("gateway", &[("SWITCHYARD_NATS_URL", &url)]);
    let _provider = Switchyard::start("provider", &[("SWITCHYARD_NATS_URL", &url)]);
    let api = gateway.api();
    let mut poller = Switchyard::start("source vcenter", &[("SWITCHYARD_NATS_URL", &url)]);
    create_source(&api, "vc1", sim.source_config()).await;
    wait_running(&api, "vc1").await;

    let client = sim.client().await;
    let since = client.current_time().await.expect("time");
    let machines = vcsim::virtual_machines(&client).await;
    let operations = tokio::spawn({
        let machines = machines.clone();
        let client = sim.client().await;
        async move { power_cycle(&client, &machines, 3, Duration::from_millis(150)).await }
    });
    // A graceful restart, then a crash, while the VMs keep changing state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = poller.stop(Duration::from_secs(10));
    assert!(
        stopped.is_some_and(|s| s.success()),
        "SIGTERM ends the poller cleanly: {stopped:?}"
    );
    poller.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // SAFETY: killing the child process this test started.
    unsafe { libc::kill(poller.pid() as i32, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    poller.restart();
    let operations = operations.await.expect("power operations");

    let expected = reported_power_events(&client, since).await;
    assert!(
        expected.len() >= operations,
        "vcsim reports {} of {operations}",
        expected.len()
    );
    wait_stored(&nats, &expected).await;
    let stored = stored_events(&nats).await;
    let mut seen = HashSet::new();
    for (ty, id, _, _) in &stored {
        assert!(seen.insert(id.clone()), "event {id} ({ty}) stored twice");
    }
    assert!(
        poller.logs().contains("following vCenter events"),
        "{}",
        poller.logs()
    );
}

#[tokio::test]
async fn bad_credentials_show_in_the_status_and_are_retried() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let mut config = sim.source_config();
    config["password"] = json!("wrong");
    create_source(&api, "bad", config).await;
    common::eventually(WAIT, "the login error in the status, retried", || async {
        let status = source(&api, "bad").await["status"].clone();
        status["state"] == "error"
            && status["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("login"))
            && status["reconnects"].as_u64() >= Some(2)
    })
    .await;
    let refused = api
        .admin(Method::POST, "/system/event-sources")
        .json(&json!({"name": "nourl", "kind": "vcenter", "config": {"url": "https://u:p@vc/sdk", "username": "u", "password": "p"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap_or_default()
        .contains("credentials"));

    // A good source next to it runs.
    create_source(&api, "good", sim.source_config()).await;
    wait_running(&api, "good").await;
    let response = api
        .admin(Method::DELETE, "/system/event-sources/bad")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn event_data_is_what_govmomi_encodes_field_by_field() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let dir = TempDir::new("vcenter-typed");
    let out = dir.0.join("all");
    api.deploy_ready("vsphere", &recorder(&dir.0, &out), json!({}))
        .await;
    api.subscribe(json!({"name": "all", "function": "vsphere",
        "filters": [{"prefix": {"type": "com.vmware.vsphere."}}]}))
        .await;
    create_source(&api, "vc1", sim.source_config()).await;
    wait_running(&api, "vc1").await;

    // govmomi makes the events, then reads them all back through its event manager.
    sim.govmomi_events("produce");
    let govmomi: HashMap<String, (String, Value)> = sim
        .govmomi_events("dump")
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("a JSON line");
            let class = entry["class"].as_str().unwrap_or_default().to_string();
            (entry["key"].to_string(), (class, entry["data"].clone()))
        })
        .collect();
    let wanted = [
        "VmPoweredOffEvent",
        "VmPoweredOnEvent",
        "VmCreatedEvent",
        "VmReconfiguredEvent",
        "VmRenamedEvent",
        "VmRemovedEvent",
        "HostConnectionLostEvent",
        "AlarmStatusChangedEvent",
    ];
    let received = |out: &std::path::Path| -> HashMap<String, Value> {
        deliveries(out)
            .iter()
            .filter_map(|d| {
                let key = d
                    .lines()
                    .find_map(|l| l.strip_prefix("Http_Ce_Id="))?
                    .to_string();
                Some((key, serde_json::from_slice(&body_of(d)).ok()?))
            })
            .collect()
    };
    common::eventually(WAIT, "every kind of event reaches the function", || {
        let got = received(&out);
        let classes: HashSet<&str> = got
            .keys()
            .filter_map(|k| govmomi.get(k).map(|(c, _)| c.as_str()))
            .collect();
        let all = wanted.iter().all(|w| classes.contains(w));
        async move { all }
    })
    .await;
    let got = received(&out);
    for (key, data) in &got {
        let (class, expected) = govmomi
            .get(key)
            .unwrap_or_else(|| panic!("event {key} unknown to govmomi"));
        assert_eq!(
            data, expected,
            "{class} {key}: ours differs from govmomi's encoding/json"
        );
    }
    // The typed mapping in full: booleans, numbers, nulls and arrays as Go writes them.
    let (_, reconfigured) = got
        .iter()
        .find(|(k, _)| govmomi[*k].0 == "VmReconfiguredEvent")
        .expect("a reconfiguration");
    assert_eq!(reconfigured["Template"], false);
    assert_eq!(reconfigured["ConfigSpec"]["MemoryMB"], 256);
    assert_eq!(reconfigured["Ds"], Value::Null);
}

#[tokio::test]
async fn payload_encoding_xml_delivers_the_soap_element() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let mut config = sim.source_config();
    config["payloadEncoding"] = json!("xml");
    create_source(&api, "vc-xml", config).await;
    wait_running(&api, "vc-xml").await;
    let client = sim.client().await;
    let machines = vcsim::virtual_machines(&client).await;
    vcsim::power(&client, &machines[0].1, false).await;
    let wanted = "com.vmware.vsphere.VmPoweredOffEvent.v0";
    common::eventually(WAIT, "the power-off stored", || async {
        stored_events(&nats).await.iter().any(|e| e.0 == wanted)
    })
    .await;
    let stored = stored_events(&nats).await;
    let (_, _, headers, payload) = stored.iter().find(|e| e.0 == wanted).expect("stored");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/xml")
    );
    let xml = String::from_utf8_lossy(payload);
    assert!(
        xml.starts_with("<") && xml.contains(r#"xsi:type="VmPoweredOffEvent""#),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<name>{}</name>", machines[0].0)),
        "{xml}"
    );
    assert!(xml.contains("<template>false</template>"), "{xml}");
}

#[tokio::test]
async fn the_catalog_counts_every_type_per_source_and_lists_the_known_classes() {
    let sim = Vcsim::start(VcsimOptions::default());
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    create_source(&api, "vc1", sim.source_config()).await;
    wait_running(&api, "vc1").await;
    let hook = api
        .create_source(
            json!({"name": "hook", "kind": "webhook", "config": {"auth": {"token": "hook-t0ken"}}}),
        )
        .await;
    assert_eq!(hook.status(), 201);

    // A burst: 5 events of one type and 3 of another through the webhook, and a power cycle.
    let http = reqwest::Client::new();
    for (n, ty) in ["com.example.a"; 5]
        .into_iter()
        .chain(["com.example.b"; 3])
        .enumerate()
    {
        let posted = http
            .post(api.url("/webhook/hook"))
            .bearer_auth("hook-t0ken")
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("e{n}"))
            .header("ce-source", "/burst")
            .header("ce-type", ty)
            .header("content-type", "application/json")
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(posted.status(), 202);
    }
    let client = sim.client().await;
    let machines = vcsim::virtual_machines(&client).await;
    vcsim::power(&client, &machines[0].1, false).await;

    let count = |entries: &Value, source: &str, ty: &str| {
        entries
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|e| e["source"] == source && e["type"] == ty)
            })
            .and_then(|e| e["count"].as_u64())
            .unwrap_or(0)
    };
    let off = "com.vmware.vsphere.VmPoweredOffEvent.v0";
    common::eventually(
        WAIT,
        "the catalog counts the burst and the power-off",
        || async {
            let entries = api.admin_json("/system/event-types").await;
            count(&entries, "hook", "com.example.a") == 5
                && count(&entries, "hook", "com.example.b") == 3
                && count(&entries, "vc1", off) == 1
        },
    )
    .await;
    let answer = api
        .admin(Method::GET, "/system/event-types")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    for secret in ["hook-t0ken", common::vcsim::PASSWORD] {
        assert!(!answer.contains(secret), "the catalog shows a credential");
    }
    let entries: Value = serde_json::from_str(&answer).expect("json");
    let b = entries
        .as_array()
        .and_then(|all| all.iter().find(|e| e["type"] == "com.example.b"))
        .expect("type b");
    assert_eq!(b["example"]["data"], json!({"n": 7}), "the latest example");
    assert!(b["firstSeen"].is_string() && b["lastSeen"].is_string());

    // The classes a vCenter source could send, seen or not.
    let known = api
        .admin_json("/system/event-types?source=vc1&known=true")
        .await;
    let known = known.as_array().expect("a list");
    assert!(known.len() > 400, "{} classes", known.len());
    assert_eq!(count(&Value::Array(known.clone()), "vc1", off), 1);
    assert!(known
        .iter()
        .any(|e| e["type"] == "com.vmware.vsphere.HostConnectionLostEvent.v0" && e["count"] == 0));
    let refused = api
        .admin(Method::GET, "/system/event-types?source=hook&known=true")
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), 400);
}
