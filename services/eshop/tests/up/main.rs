//! The shop as a person meets it: `eshop up` run as a process, and its
//! pages in a real browser.
//!
//! `command` checks what the command itself promises (the demo shop on a
//! fresh machine, data kept across restarts, a clean stop on Ctrl-C, and
//! PostgreSQL and Redis when given). The other modules are customers'
//! journeys in headless Chromium, driven over WebDriver, each asserting
//! what the page shows; screenshots of the key pages are saved under
//! `$ESHOP_CACHE_DIR/artifacts/screenshots/`.

mod accessibility;
mod account;
mod browsing;
mod buying;
mod command;
mod harness;
mod process;
