//! Browsing a category page by page, searching, and rating a product.

use crate::harness::visit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_browses_a_category_and_searches() {
    let visit = visit().await;
    visit.open("/").await;
    visit
        .click(".categories a[href='/categories/drones']")
        .await;
    visit.wait_for_text("h1", "Drones").await;
    visit.wait_for_text(".pager", "Page 1 of 2").await;
    let first_page = visit.text(".product-grid").await;
    visit.click_text("Next →").await;
    visit.wait_for_text(".pager", "Page 2 of 2").await;
    let second_page = visit.text(".product-grid").await;
    assert_ne!(
        first_page, second_page,
        "the second page shows other drones"
    );

    visit.fill("#search-q", "rover").await;
    visit.click_text("Search").await;
    visit.wait_for_text("h1", "Results for “rover”").await;
    let results = visit.wait_for_text(".product-grid", "Rover One").await;
    assert!(results.contains("€249.00"), "{results}");
    visit
        .click(".product-grid a[href='/products/ROBOT-ROVER-1']")
        .await;
    visit.wait_for_text("#product-name", "Rover One").await;
    visit.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_rates_a_product() {
    let visit = visit().await;
    visit.register("Katherine Johnson").await;
    visit.open("/products/ROBOT-ARM-2").await;
    visit.wait_for_text("#product-name", "Desk Arm Two").await;
    visit.wait_for_text(".product-info", "No ratings yet").await;

    visit.click("input[name=stars][value='5']").await;
    visit
        .fill("#review", "Draws a perfect circle every time.")
        .await;
    visit.click_text("Save my rating").await;
    visit
        .wait_for_text("[role=status]", "Thank you! Your rating is saved.")
        .await;
    let rating = visit
        .wait_for_text("[data-test=rating]", "5.0 out of 5")
        .await;
    assert_eq!(rating, "5.0 out of 5");
    let reviews = visit
        .wait_for_text(".review-list", "Draws a perfect circle every time.")
        .await;
    assert!(reviews.contains("Katherine Johnson"), "{reviews}");
    visit.screenshot("product").await;
    visit.close().await;
}
