//! Every service's OpenAPI document judged by an outside tool against the
//! running shop on PostgreSQL and Redis: Schemathesis generates requests
//! from each document, valid ones and deliberately malformed ones, and
//! checks each answer. Every status a route answers must be documented for
//! that route (`status_code_conformance`), and no request, however
//! malformed, may be answered 500 (`not_a_server_error`).
//!
//! The run is seeded and bounded in examples per operation. It is ignored
//! by a plain `cargo test` because it needs Schemathesis, which `tests/run`
//! installs into its cache and names in `ESHOP_SCHEMATHESIS`.

use std::{path::Path, process::Command};

use eshop::shop::SERVICES;
use eshop_test_support::{INTERNAL_TOKEN, TestBackend};

use crate::helpers::spawn;

/// The seed of every run, so a failure can be replayed.
const SEED: &str = "20261206";
/// Examples generated per operation and phase.
const EXAMPLES: &str = "12";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Schemathesis, which tests/run installs (ESHOP_SCHEMATHESIS)"]
async fn every_answer_of_every_service_is_documented_and_none_is_a_server_error() {
    let schemathesis = std::env::var("ESHOP_SCHEMATHESIS")
        .expect("ESHOP_SCHEMATHESIS names the schemathesis executable");
    let shop = spawn(TestBackend::Server).await;
    let customer = shop.customer().await;
    let services = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let reports = tempfile::tempdir().expect("a temporary directory");

    let mut failed = Vec::new();
    for service in SERVICES {
        let document = services.join(service).join("openapi.json");
        let run = tokio::task::spawn_blocking({
            let schemathesis = schemathesis.clone();
            let url = shop.shop.url(service).to_string();
            let token = customer.token.clone();
            let reports = reports.path().join(service);
            move || {
                Command::new(schemathesis)
                    .arg("run")
                    .arg(document)
                    .args(["--url", &url])
                    .args(["--header", &format!("x-internal-token: {INTERNAL_TOKEN}")])
                    .args(["--header", &format!("authorization: Bearer {token}")])
                    .args(["--checks", "status_code_conformance,not_a_server_error"])
                    .args(["--max-examples", EXAMPLES, "--seed", SEED])
                    .args(["--workers", "1", "--no-color"])
                    .arg("--report-dir")
                    .arg(reports)
                    .output()
                    .expect("schemathesis runs")
            }
        })
        .await
        .expect("the run finishes");
        let stdout = String::from_utf8_lossy(&run.stdout);
        let summary = stdout.lines().rev().find(|line| !line.trim().is_empty());
        eprintln!("{service}: {}", summary.unwrap_or("no output"));
        for warning in stdout.lines().filter(|line| line.contains("⚠️")) {
            eprintln!("{service}: {}", warning.trim());
        }
        if !run.status.success() {
            failed.push(format!(
                "== {service}\n{stdout}\n{}",
                String::from_utf8_lossy(&run.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
