//! A real browser for UI tests: Debian's chromium, headless, driven by chromedriver over the
//! W3C WebDriver protocol (plain JSON over HTTP, so a small client of our own does). A missing
//! chromedriver fails the test loudly; `./scripts/test` installs it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::free_port;

/// The W3C id of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless chromium with a `width`×`height` window.
    pub async fn start(width: u32, height: u32) -> Self {
        let program =
            std::env::var("SWITCHYARD_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        use std::os::unix::process::CommandExt;
        let driver = Command::new(&program)
            .arg(format!("--port={port}"))
            // Its own process group, so that chromium goes with it whatever happens.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}): the UI tests need chromium and chromium-driver; run ./scripts/test, which installs them"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let binary =
            std::env::var("SWITCHYARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         format!("--window-size={width},{height}"), "--force-device-scale-factor=1"]
            }
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("json");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_string();
        Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver answers")
            .json()
            .await
            .expect("json");
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// The first element matching `css`, waiting up to 20 s for it.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .command(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = found[ELEMENT].as_str() {
                return Element(id.to_string());
            }
            assert!(
                Instant::now() < deadline,
                "no element `{css}` on the page: {}",
                self.describe().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of `css` contains `expected` (up to `within`), and returns it.
    pub async fn wait_text(&self, css: &str, expected: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never showed `{expected}`; the page: {}",
                self.describe().await
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The visible text of the first `css` match ("" when there is none).
    pub async fn text(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';";
        self.script(script, json!([css]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Where the browser is and what it shows, for failure messages.
    pub async fn describe(&self) -> String {
        let script = "return location.href + '\\n' + document.body.innerText;";
        self.script(script, json!([])).await.to_string()
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks the first button (or link) whose text is `label`, inside `scope`.
    pub async fn click_button(&self, scope: &str, label: &str) {
        let script = "const b = [...document.querySelectorAll(arguments[0] + ' button, ' + arguments[0] + ' a')]
                        .find(b => b.innerText.trim() === arguments[1]);
                      if (!b) return false; b.scrollIntoView(); b.click(); return true;";
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.script(script, json!([scope, label])).await != json!(true) {
            assert!(
                Instant::now() < deadline,
                "no button `{label}` in `{scope}`: {}",
                self.describe().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the field `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Chooses `value` in the `<select>` `css`.
    pub async fn choose(&self, css: &str, value: &str) {
        let script = "const s = document.querySelector(arguments[0]); s.value = arguments[1];
                      s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;";
        assert_eq!(self.script(script, json!([css, value])).await, json!(value));
    }

    /// A PNG of the window scrolled to show `css`, saved at `path`.
    pub async fn screenshot_of(&self, path: &std::path::Path, css: &str) {
        let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});";
        self.script(script, json!([css])).await;
        self.screenshot(path).await;
    }

    /// A PNG of the window, saved at `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let data = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 screenshot"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the chromium it started share a process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}
