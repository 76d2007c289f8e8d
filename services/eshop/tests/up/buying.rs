//! Filling the cart, checking out with the wallet and following the order
//! to its door, and a card that is declined.

use crate::harness::{DELIVERY_PATIENCE, visit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_fills_the_cart_and_changes_a_quantity() {
    let visit = visit().await;
    visit.add_to_cart("ROBOT-ARM-2", "1").await;
    visit.add_to_cart("SENSOR-IMU-3", "2").await;
    let cart = visit.text(".cart-table").await;
    assert!(
        cart.contains("Desk Arm Two") && cart.contains("Nine-Axis IMU"),
        "{cart}"
    );
    visit.wait_for_text(".cart-total", "€447.00").await;

    visit.fill("#quantity-SENSOR-IMU-3", "3").await;
    visit
        .click("tr[data-sku='SENSOR-IMU-3'] button[type=submit]")
        .await;
    visit
        .wait_for_text("tr[data-sku='SENSOR-IMU-3'] .line-total", "€87.00")
        .await;
    visit.wait_for_text(".cart-total", "€476.00").await;
    visit.wait_for_text(".cart-link .count", "4").await;
    visit.screenshot("cart").await;

    visit
        .click("tr[data-sku='ROBOT-ARM-2'] form[action$='/remove'] button")
        .await;
    visit.wait_for_text(".cart-total", "€87.00").await;
    let cart = visit.text(".cart-table").await;
    assert!(!cart.contains("Desk Arm Two"), "{cart}");
    visit.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_checkout_is_paid_dispatched_and_delivered_before_the_customers_eyes() {
    let visit = visit().await;
    visit.register("Ada Lovelace").await;
    visit.top_up("1000", "4242 4242 4242 4242").await;
    visit
        .wait_for_text("[data-test=balance]", "€1,000.00")
        .await;
    visit.add_to_cart("DRONE-RACER-3", "1").await;
    visit.add_to_cart("SENSOR-IMU-3", "2").await;

    visit.address_to_paris().await;
    visit
        .wait_for_text("[data-test=shipping-cost]", "Shipping to Paris")
        .await;
    visit.click("input[name=method][value=wallet]").await;
    visit.screenshot("checkout").await;
    visit
        .click("form[action='/checkout'] button[type=submit]")
        .await;

    let placed = visit
        .wait_for_text("[data-test=order-placed]", "Thank you! Your order")
        .await;
    assert!(placed.contains("is placed"), "{placed}");
    visit.wait_for_text("[data-order-status]", "Paid").await;
    visit.screenshot("order-confirmation").await;

    visit.click_text("Orders").await;
    visit.wait_for_text("h1", "Your orders").await;
    visit.wait_for_text(".orders-table .status", "Paid").await;
    // Marks this page: a reload would lose the mark.
    visit
        .browser
        .execute("window.stillTheSamePage = true;", vec![])
        .await
        .expect("a script runs");
    visit
        .wait_for_text_within(".orders-table .status", "Dispatched", DELIVERY_PATIENCE)
        .await;
    visit
        .wait_for_text_within(".orders-table .status", "Delivered", DELIVERY_PATIENCE)
        .await;
    let same_page = visit
        .browser
        .execute("return window.stillTheSamePage === true;", vec![])
        .await
        .expect("a script runs");
    assert_eq!(
        same_page,
        serde_json::Value::Bool(true),
        "the page was reloaded"
    );
    visit.screenshot("order-history").await;

    visit.open("/account/wallet").await;
    let balance = visit.text("[data-test=balance]").await;
    assert_ne!(balance, "€1,000.00", "the order was paid from the wallet");
    visit.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_says_so_and_charges_nothing() {
    let visit = visit().await;
    visit.register("Alan Turing").await;
    visit.add_to_cart("ROBOT-ROVER-1", "1").await;
    visit.address_to_paris().await;
    visit.click("input[name=method][value=card]").await;
    visit.fill("#card_number", "4000 0000 0000 0002").await;
    visit
        .click("form[action='/checkout'] button[type=submit]")
        .await;

    let message = visit
        .wait_for_text("[role=alert]", "Your card was declined.")
        .await;
    assert!(message.contains("Nothing was charged"), "{message}");
    visit.wait_for_text("[data-test=quote]", "Shipping €").await;
    visit.screenshot("declined-card").await;

    visit.open("/cart").await;
    visit.wait_for_text(".cart-table", "Rover One").await;
    visit.open("/orders").await;
    visit.wait_for_text("main", "You have no orders yet.").await;
    visit.close().await;
}
