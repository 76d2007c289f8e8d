//! Registering, and logging out.

use crate::harness::visit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_registers_and_logs_out() {
    let visit = visit().await;
    visit.open("/").await;
    visit
        .wait_for_text("h1", "Parts and robots for makers")
        .await;
    visit.wait_for_text(".account-nav", "Log in").await;
    visit.screenshot("home").await;

    visit.register("Grace Hopper").await;
    let header = visit.text(".account-nav").await;
    assert!(
        header.contains("Grace Hopper") && header.contains("Log out"),
        "{header}"
    );
    assert!(!header.contains("Log in"), "{header}");

    visit.click_text("Log out").await;
    visit.wait_for_text(".account-nav", "Log in").await;
    let header = visit.text(".account-nav").await;
    assert!(!header.contains("Grace Hopper"), "{header}");
    visit.open("/orders").await;
    visit.wait_for_path("/login").await;
    visit.wait_for_text("h1", "Log in").await;
    visit.close().await;
}
