//! A real headless Chromium, driven over WebDriver (ChromeDriver), for
//! tests of the dashboard. The protocol is a handful of JSON calls, so it
//! is spoken here with reqwest rather than through another dependency.
//!
//! Without Chromium and ChromeDriver installed the browser test skips with
//! a loud notice, unless `SOLO_TEST_BROWSER=require` (set by `.ci/run`)
//! makes that a failure.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const W3C_ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub fn browser_required() -> bool {
    std::env::var("SOLO_TEST_BROWSER").is_ok_and(|v| v == "require")
}

fn find(candidates: &[&str], env: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

/// A ChromeDriver process and one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// A page element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts ChromeDriver and a headless Chromium; None (after a loud
    /// notice) when they are not installed and not required.
    pub async fn start(test_name: &str) -> Option<Browser> {
        let chromium = find(
            &[
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ],
            "SOLO_CHROMIUM",
        );
        let driver = find(&["/usr/bin/chromedriver"], "SOLO_CHROMEDRIVER");
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let why = "Chromium and ChromeDriver are not installed (Debian: apt-get install chromium chromium-driver)";
            assert!(
                !browser_required(),
                "SOLO_TEST_BROWSER=require, but {test_name} cannot run: {why}"
            );
            let line = "!".repeat(78);
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n{line}\nSKIPPED: {test_name}\n  {why}\n  SOLO_TEST_BROWSER=require makes this a failure.\n{line}\n"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a browser profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": chromium, "args": args },
            }}}))
            .send()
            .await
            .expect("create a WebDriver session")
            .json()
            .await
            .expect("a WebDriver answer");
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Some(Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        if let Some(error) = response["value"]["error"].as_str() {
            panic!(
                "WebDriver {path}: {error}: {}",
                response["value"]["message"]
            );
        }
        response["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching a CSS selector; panics (with the page's
    /// text) when there is none.
    pub async fn find(&self, css: &str) -> Element {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let response: Value = self
            .http
            .post(&url)
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .expect("WebDriver find")
            .json()
            .await
            .expect("WebDriver find answer");
        match response["value"][W3C_ELEMENT].as_str() {
            Some(id) => Element(id.to_owned()),
            None => panic!(
                "no element matches `{css}` on {}:\n{}",
                self.current_url().await,
                self.page_text().await
            ),
        }
    }

    /// Waits (up to 10 s) for an element to appear: a click that submits a
    /// form returns before the next page has loaded.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(element) = self.find_optional(css).await {
                return element;
            }
            if Instant::now() > deadline {
                return self.find(css).await; // panics with the page's text
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn page_text(&self) -> String {
        let body = self.find_optional("body").await;
        match body {
            Some(body) => self.text(&body).await,
            None => String::new(),
        }
    }

    async fn find_optional(&self, css: &str) -> Option<Element> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let response: Value = self
            .http
            .post(&url)
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        response["value"][W3C_ELEMENT]
            .as_str()
            .map(|id| Element(id.to_owned()))
    }

    pub async fn text(&self, element: &Element) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await;
    }

    /// Sets the window size (a phone: 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes Chromium; then stop the driver.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime
                        .block_on(async { reqwest::Client::new().delete(&url).send().await.ok() })
                })
                .join()
        });
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
