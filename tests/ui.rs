//! The web UI in a real headless browser (chromium over WebDriver) against `switchyard up`:
//! sign in, deploy through the form, invoke sync and async, create a webhook source and a
//! subscription and watch an event arrive live and reach the function, redrive a dead letter;
//! a narrow window; a route made in the form answering; an organization, a policy and a
//! service account made, a token issued and used to sign in; and a screenshot of each page (`SWITCHYARD_SCREENSHOTS=docs/screenshots`
//! keeps them where the README shows them).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::Browser;
use common::{deliveries, recorder, Nats, Switchyard, TempDir, ADMIN_PASSWORD};
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);

fn screenshots() -> PathBuf {
    std::env::var_os("SWITCHYARD_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sy-ui-{}", std::process::id())))
}

#[tokio::test]
async fn an_operator_works_through_the_ui() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    let base = format!("http://{}", switchyard.address);
    let shots = screenshots();
    let browser = Browser::start(1280, 800).await;

    // Sign in: a wrong password is said so on the form; the right one opens the functions.
    browser.goto(&format!("{base}/ui/")).await;
    browser.fill("input[name=password]", "wrong").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("form .notice", "Wrong user or password", WITHIN)
        .await;
    browser.fill("input[name=password]", ADMIN_PASSWORD).await;
    browser.screenshot(&shots.join("login.png")).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("main", "No functions in openfaas-fn", WITHIN)
        .await;

    // Deploy through the form; a bad deployment's reason shows on the form.
    browser.click_button("main", "New function").await;
    browser.fill("input[name=service]", "echo").await;
    browser
        .fill("input[name=target]", "no-such-program-anywhere")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("form .notice", "not found or not executable", WITHIN)
        .await;
    browser.fill("input[name=target]", "cat").await;
    browser.fill("textarea[name=labels]", "team=blue").await;
    browser.screenshot(&shots.join("new-function.png")).await;
    browser.click("button[type=submit]").await;
    browser.wait_text("main h1", "echo", WITHIN).await;
    api.wait_available("echo", 1).await;
    browser.goto(&format!("{base}/ui/#/functions/echo")).await;
    browser.wait_text("main", "1 available of 1", WITHIN).await;
    browser.screenshot(&shots.join("function.png")).await;

    // Invoke synchronously, then as a job followed until it ends.
    browser.click_button("main", "Invoke").await;
    browser
        .fill("textarea[name=body]", "hello from the browser")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("#answer-body", "hello from the browser", WITHIN)
        .await;
    assert!(browser.text("#answer").await.contains("200"));
    browser
        .screenshot_of(&shots.join("invoke-sync.png"), "#answer")
        .await;
    browser.click("input[name=mode][value=async]").await;
    browser
        .fill("textarea[name=body]", "later, from the browser")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("#job-progress", "succeeded", WITHIN)
        .await;
    browser
        .wait_text("#result-body", "later, from the browser", WITHIN)
        .await;
    browser
        .screenshot_of(&shots.join("invoke-async.png"), "#job-progress")
        .await;
    let call_id = browser.text("#call-id").await;
    assert_eq!(api.job(&call_id).await["status"], "succeeded");

    // A webhook source and a subscription from the forms; an event seen live and delivered.
    let dir = TempDir::new("ui");
    let out = dir.0.join("events.out");
    api.deploy_with("recorder", &recorder(&dir.0, &out), json!({}), json!({}))
        .await;
    browser.goto(&format!("{base}/ui/#/events")).await;
    browser.click_button("main", "New source").await;
    browser
        .fill("#source-form input[name=name]", "orders")
        .await;
    browser
        .fill("#source-form input[name=secret]", "s3cret-token")
        .await;
    browser
        .fill("#source-form input[name=type]", "com.example.order")
        .await;
    browser.click("#source-form button[type=submit]").await;
    browser.wait_text("main", "/webhook/orders", WITHIN).await;
    browser.click_button("main", "New subscription").await;
    browser
        .fill("#subscription-form input[name=name]", "orders-to-recorder")
        .await;
    browser
        .fill("#subscription-form input[name=function]", "recorder")
        .await;
    browser
        .fill(
            "#subscription-form textarea[name=filters]",
            r#"[{"prefix": {"type": "com.example."}}]"#,
        )
        .await;
    browser
        .click("#subscription-form button[type=submit]")
        .await;
    browser
        .wait_text("main", "orders-to-recorder", WITHIN)
        .await;
    browser.fill("input[name=ingress]", "orders").await;
    browser.click("#live-toggle").await;
    browser
        .wait_text("main", "Waiting for events", WITHIN)
        .await;
    let posted = reqwest::Client::new()
        .post(format!("{base}/webhook/orders"))
        .bearer_auth("s3cret-token")
        .header("content-type", "application/json")
        .body(r#"{"order": 42}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(posted.status(), 202);
    browser
        .wait_text("#live-events", "com.example.order", WITHIN)
        .await;
    assert!(browser.text("#live-events").await.contains("\"order\": 42"));
    common::eventually(WITHIN, "the event reaches the subscribed function", || {
        let out = out.clone();
        async move { deliveries(&out).len() == 1 }
    })
    .await;
    // The catalog below counts it, once refreshed.
    common::eventually(WITHIN, "the event catalog shows the type", || async {
        browser.click_button("main", "Refresh").await;
        browser
            .text("#event-types")
            .await
            .contains("com.example.order")
    })
    .await;
    browser
        .screenshot_of(&shots.join("events.png"), "#event-types")
        .await;

    // A job that dies, redriven from the dead letters page once its function works.
    let flag = api.deploy_failing_until_healed("flaky", &dir.0).await;
    let dead_call = api.queue("flaky", "try me").await;
    api.wait_job(&dead_call, "failed", WITHIN).await;
    std::fs::write(&flag, "").expect("flag");
    browser.goto(&format!("{base}/ui/#/dead-letters")).await;
    browser.wait_text("main table", "flaky", WITHIN).await;
    browser.click_button("main", "Inspect").await;
    browser.wait_text("#dead-letter", "try me", WITHIN).await;
    browser
        .wait_text("#dead-letter", "function answered 500", WITHIN)
        .await;
    browser.screenshot(&shots.join("dead-letters.png")).await;
    browser.click_button("main table", "Redrive").await;
    let said = browser
        .wait_text("main .notice", "sent again as job", WITHIN)
        .await;
    let new_call = said
        .split("as job ")
        .nth(1)
        .map(|s| s.trim_end_matches('.').trim().to_string())
        .expect("the new job's id");
    api.wait_job(&new_call, "succeeded", WITHIN).await;
    browser.goto(&format!("{base}/ui/#/jobs/{new_call}")).await;
    browser.wait_text("main", "succeeded", WITHIN).await;
    browser.wait_text("#result-body", "try me", WITHIN).await;
    browser.screenshot(&shots.join("job.png")).await;

    // The other pages render; the list at a narrow width still shows every function.
    browser.goto(&format!("{base}/ui/#/jobs")).await;
    browser.wait_text("main table", &new_call, WITHIN).await;
    browser.screenshot(&shots.join("jobs.png")).await;
    // Schedules: the next ticks in the function's time zone, and pausing.
    api.deploy_scheduled("nightly", "30 1 * * *", "Europe/London")
        .await;
    browser.goto(&format!("{base}/ui/#/schedules")).await;
    browser.wait_text("main table", "30 1 * * *", WITHIN).await;
    browser.click_button("main table", "Pause").await;
    browser.wait_text("main table", "paused", WITHIN).await;
    browser.click_button("main table", "nightly").await;
    browser
        .wait_text(
            "#schedule-preview",
            "Next ticks of nightly (Europe/London)",
            WITHIN,
        )
        .await;
    browser.screenshot(&shots.join("schedules.png")).await;
    let listed = api.admin_json("/system/schedules").await;
    assert_eq!(listed[0]["paused"], true, "{listed}");
    browser.goto(&format!("{base}/ui/#/api")).await;
    browser.wait_text("main", "/system/functions", WITHIN).await;
    browser.screenshot(&shots.join("api.png")).await;
    browser.goto(&format!("{base}/ui/#/functions")).await;
    browser.wait_text("main table", "recorder", WITHIN).await;
    browser.screenshot(&shots.join("functions.png")).await;
    browser.resize(420, 800).await;
    browser.goto(&format!("{base}/ui/#/functions")).await;
    let narrow = browser.wait_text("main table", "flaky", WITHIN).await;
    assert!(narrow.contains("echo") && narrow.contains("recorder"));
    let overflow = browser
        .script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            json!([]),
        )
        .await;
    assert_eq!(overflow, json!(true), "the page scrolls sideways at 420 px");
    browser
        .screenshot(&shots.join("functions-narrow.png"))
        .await;
}

#[tokio::test]
async fn routes_organizations_and_tokens_through_the_ui() {
    let nats = Nats::start();
    let switchyard = Switchyard::up(&nats);
    let api = switchyard.api();
    api.deploy_ready("echo", "cat", json!({})).await;
    let base = format!("http://{}", switchyard.address);
    let shots = screenshots();
    let browser = Browser::start(1280, 900).await;
    browser.goto(&format!("{base}/ui/")).await;
    browser.fill("input[name=password]", ADMIN_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_text("main", "echo", WITHIN).await;

    // A route made in the form answers at its path.
    browser.goto(&format!("{base}/ui/#/routes")).await;
    browser
        .wait_text("main", "No routes in this namespace", WITHIN)
        .await;
    browser.fill("#route-form input[name=name]", "hello").await;
    browser
        .fill("#route-form input[name=function]", "echo")
        .await;
    browser
        .fill("#route-form input[name=path]", "/hello/{who}")
        .await;
    browser
        .fill("#route-form input[name=methods]", "post")
        .await;
    browser.click("#route-form button[type=submit]").await;
    browser
        .wait_text("main table", "/hello/{who}", WITHIN)
        .await;
    browser.screenshot(&shots.join("routes.png")).await;
    let answer = api
        .http
        .post(api.url("/hello/world"))
        .body("routed")
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.text().await.expect("body"), "routed");

    // An organization, a policy and a service account; a token shown once.
    browser.goto(&format!("{base}/ui/#/access")).await;
    browser
        .fill("#organization-form input[name=name]", "acme")
        .await;
    browser
        .click("#organization-form button[type=submit]")
        .await;
    browser
        .wait_text("#policy-form h2", "New policy in acme", WITHIN)
        .await;
    browser.fill("#account-form input[name=name]", "ci").await;
    browser.click("#account-form button[type=submit]").await;
    browser.wait_text("main table", "ci", WITHIN).await;
    browser
        .fill("#policy-form input[name=name]", "ci-view")
        .await;
    browser
        .fill("#policy-form input[name=subjects]", "serviceaccount:ci")
        .await;
    browser.click("#policy-form button[type=submit]").await;
    browser
        .wait_text("main table", "serviceaccount:ci", WITHIN)
        .await;
    browser.click_button("main table", "Issue token").await;
    let token = browser.wait_text("#token-value", "sy_", WITHIN).await;
    browser.script("window.scrollTo(0, 0);", json!([])).await;
    browser.screenshot(&shots.join("access.png")).await;

    // Signed in with that token: what a viewer of acme may do, no more.
    browser.click("#signout").await;
    browser.fill("input[name=token]", token.trim()).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text("main", "may not read namespace `openfaas-fn`", WITHIN)
        .await;
    let audit = api.admin_json("/system/audit").await;
    assert!(audit
        .to_string()
        .contains("/system/service-accounts/acme/ci/tokens"));
}
