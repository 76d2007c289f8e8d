//! What the browser tests stand on: the whole shop as `eshop up` runs it
//! (every service and the gateway, on the embedded backend with the demo
//! catalog), a real headless Chromium driven over WebDriver by a
//! chromedriver of the test's own, and helpers that act and look as a
//! person would: click, type, wait (with a deadline, never a fixed sleep)
//! for what the page says, and save screenshots as test artefacts.

use std::{
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;
use uuid::Uuid;

use crate::process::{EshopUp, free_port};

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);
/// How long an order may take to be dispatched and then delivered.
pub(crate) const DELIVERY_PATIENCE: Duration = Duration::from_secs(40);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// The Chromium flags: headless, no sandbox (tests may run as root), and
/// nothing that phones home.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    "--lang=en-GB",
];

/// Where screenshots go: outside the repository, with the other caches.
fn screenshot_dir() -> PathBuf {
    let cache = std::env::var_os("ESHOP_CACHE_DIR").map_or_else(
        || {
            std::env::home_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join(".cache/eshop")
        },
        PathBuf::from,
    );
    cache.join("artifacts/screenshots")
}

/// A program of Debian's `chromium` and `chromium-driver` packages.
fn program(name: &str, candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: the browser tests need Debian's chromium and \
                 chromium-driver packages (tests/run installs them)"
            )
        })
}

/// A chromedriver on a free loopback port, in a process group of its own
/// so that it and every browser it started end with the test.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new(program(
            "chromedriver",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        ))
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if status.is_ok_and(|status| status.status().is_success()) {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in time"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0));
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The shop, and a browser looking at it.
pub(crate) struct Visit {
    pub(crate) browser: Client,
    base: String,
    _driver: Driver,
    _profile: tempfile::TempDir,
    _shop: EshopUp,
    _data: tempfile::TempDir,
}

/// Starts the whole shop with `eshop up` and a fresh browser.
pub(crate) async fn visit() -> Visit {
    let data = tempfile::tempdir().expect("a temporary directory");
    // Long enough to see Paid, short enough to wait for Delivered.
    let shop = EshopUp::start(
        data.path(),
        &["--dispatch-delay", "6s", "--delivery-delay", "3s"],
    )
    .await;
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let driver = Driver::start().await;
    let mut args: Vec<String> = CHROMIUM_FLAGS
        .iter()
        .map(|flag| (*flag).to_owned())
        .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let chromium = program(
        "chromium",
        &["/usr/bin/chromium", "/usr/lib/chromium/chromium"],
    );
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in Chromium");
    Visit {
        browser,
        base: shop.url().to_owned(),
        _driver: driver,
        _profile: profile,
        _shop: shop,
        _data: data,
    }
}

impl Visit {
    /// Opens a page of the shop.
    pub(crate) async fn open(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page opens");
    }

    /// The element `css` selects, once it is there.
    pub(crate) async fn element(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.browser.find(Locator::Css(css)).await {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "no `{css}` on {} after {PATIENCE:?}",
                self.path().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        self.element(css).await.click().await.expect("it clicks");
    }

    /// Clicks the link or button whose text is `text`.
    pub(crate) async fn click_text(&self, text: &str) {
        let xpath =
            format!("//a[normalize-space()='{text}'] | //button[normalize-space()='{text}']");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.browser.find(Locator::XPath(&xpath)).await {
                element.click().await.expect("it clicks");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nothing to click that says {text:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types into the field `css`, replacing what it held.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.clear().await.expect("it clears");
        field.send_keys(text).await.expect("it types");
    }

    /// Types into the field `css`, after what it holds.
    pub(crate) async fn type_more(&self, css: &str, text: &str) {
        self.element(css)
            .await
            .send_keys(text)
            .await
            .expect("it types");
    }

    /// The text of the element `css`.
    pub(crate) async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("it has text")
    }

    /// Waits until the element `css` says `expected`, and gives its text.
    pub(crate) async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        self.wait_for_text_within(css, expected, PATIENCE).await
    }

    pub(crate) async fn wait_for_text_within(
        &self,
        css: &str,
        expected: &str,
        patience: Duration,
    ) -> String {
        let deadline = Instant::now() + patience;
        let mut seen = String::new();
        loop {
            if let Ok(element) = self.browser.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                seen = text;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` on {} does not say {expected:?} after {patience:?}; it says {seen:?}",
                self.path().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the browser is on `path` (query included, if given).
    pub(crate) async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.path().await.starts_with(path) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the browser is on {}, not {path}",
                self.path().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The path and query the browser is on.
    pub(crate) async fn path(&self) -> String {
        self.browser.current_url().await.map_or_else(
            |_| "(unknown)".to_owned(),
            |url| match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
        )
    }

    /// Saves what the browser shows as `<name>.png` with the artefacts.
    pub(crate) async fn screenshot(&self, name: &str) {
        self.browser
            .execute("window.scrollTo(0, 0);", vec![])
            .await
            .expect("a script runs");
        let png = self.browser.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is saved");
        eprintln!("screenshot: {}", path.display());
    }

    /// Registers a new customer through the form: their email.
    pub(crate) async fn register(&self, name: &str) -> String {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        self.open("/register").await;
        self.fill("#name", name).await;
        self.fill("#email", &email).await;
        self.fill("#password", "correct horse battery").await;
        self.click_text("Create account").await;
        self.wait_for_text("[data-test=account-name]", name).await;
        email
    }

    /// Tops up the wallet by card on the wallet page.
    pub(crate) async fn top_up(&self, euros: &str, card: &str) {
        self.open("/account/wallet").await;
        self.fill("#amount", euros).await;
        self.fill("#card_number", card).await;
        self.click_text("Top up").await;
        self.wait_for_text("[role=status]", "Your wallet was topped up.")
            .await;
    }

    /// Adds `quantity` of a product to the cart from its page.
    pub(crate) async fn add_to_cart(&self, sku: &str, quantity: &str) {
        self.open(&format!("/products/{sku}")).await;
        self.fill("#quantity", quantity).await;
        self.click_text("Add to cart").await;
        self.wait_for_text("[role=status]", "Added to your cart.")
            .await;
    }

    /// Fills the address step of checkout, picking Paris with the city
    /// picker, and asks for the shipping cost.
    pub(crate) async fn address_to_paris(&self) {
        self.open("/checkout").await;
        self.fill("#name", "Ada Lovelace").await;
        self.fill("#line1", "1 Rue de Rivoli").await;
        self.fill("#postal_code", "75001").await;
        self.fill("#city", "Par").await;
        self.element("#city-suggestions option[value='Paris (FR)']")
            .await;
        self.type_more("#city", "is (FR)").await;
        self.click_text("Show shipping cost").await;
        self.wait_for_text("[data-test=quote]", "Shipping €").await;
    }

    /// Ends the browser session cleanly.
    pub(crate) async fn close(self) {
        self.browser
            .clone()
            .close()
            .await
            .expect("the session closes");
    }
}
