//! The shop in a real browser: headless Chromium, driven over WebDriver,
//! against the whole shop (every service and the gateway in this process,
//! on the embedded backend with the demo catalog). Each test is a
//! customer's journey and asserts what the page shows them; screenshots of
//! the key pages are saved under `$ESHOP_CACHE_DIR/artifacts/screenshots/`.

mod accessibility;
mod account;
mod browsing;
mod buying;
mod harness;
