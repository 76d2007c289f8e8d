//! Failure paths. Each ends with the stock and the money back where they
//! belong, and the invariants holding.

use std::time::Duration;

use eshop_test_support::{TestBackend, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Customer, TestShop, Timing, card, error_code, spawn, spawn_with, wallet};

on_both_backends!(
    a_declined_card_buys_nothing,
    insufficient_funds_buy_nothing,
    an_item_sold_out_meanwhile_buys_nothing,
    a_returned_order_is_refunded_and_restocked,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_is_refunded_and_restocked_on_postgres() {
    a_cancelled_order_is_refunded_and_restocked(TestBackend::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_is_refunded_and_restocked_on_sqlite() {
    a_cancelled_order_is_refunded_and_restocked(TestBackend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_down_leaves_nothing_taken_on_postgres() {
    a_service_down_leaves_nothing_taken(TestBackend::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_down_leaves_nothing_taken_on_sqlite() {
    a_service_down_leaves_nothing_taken(TestBackend::Embedded).await;
}

/// A customer with money and one drone in the cart.
async fn ready_to_buy(shop: &TestShop) -> Customer {
    let customer = shop.customer().await;
    shop.top_up(&customer, 200_000).await;
    shop.add_to_cart(&customer, "DRONE-RACER-3", 1).await;
    customer
}

async fn a_declined_card_buys_nothing(shop: TestShop) {
    let customer = ready_to_buy(&shop).await;
    let stock = shop.stock("DRONE-RACER-3").await;
    let response = shop
        .checkout(&customer, "declined", card("4000 0000 0000 0002"))
        .await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::PAYMENT_REQUIRED, "card_declined".to_owned())
    );
    assert_eq!(shop.stock("DRONE-RACER-3").await, stock);
    assert_eq!(
        shop.cart_items(&customer).await,
        1,
        "the cart is kept to try again"
    );
    let figures = shop.settle().await;
    assert_eq!((figures.orders, figures.charged_cents), (0, 0));
}

async fn insufficient_funds_buy_nothing(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 1_000).await;
    shop.add_to_cart(&customer, "DRONE-RACER-3", 1).await;
    let stock = shop.stock("DRONE-RACER-3").await;
    let response = shop.checkout(&customer, "poor", wallet()).await;
    assert_eq!(
        error_code(response).await,
        (
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_funds".to_owned()
        )
    );
    assert_eq!(shop.stock("DRONE-RACER-3").await, stock);
    assert_eq!(shop.balance(&customer).await, 1_000);
    assert_eq!(shop.settle().await.orders, 0);
}

async fn an_item_sold_out_meanwhile_buys_nothing(shop: TestShop) {
    let customer = ready_to_buy(&shop).await;
    shop.set_stock("DRONE-RACER-3", 0).await;
    let response = shop.checkout(&customer, "too-late", wallet()).await;
    assert_eq!(
        error_code(response).await,
        (StatusCode::CONFLICT, "out_of_stock".to_owned())
    );
    assert_eq!(shop.stock("DRONE-RACER-3").await, 0);
    assert_eq!(shop.balance(&customer).await, 200_000);
    assert_eq!(shop.settle().await.orders, 0);
}

async fn a_service_down_leaves_nothing_taken(backend: TestBackend) {
    let timing = Timing {
        checkout_deadline: Duration::from_secs(4),
        ..Timing::default()
    };
    let mut shop = spawn_with(backend, timing, &["shipping", "payments"]).await;
    // Shipping is down: its address refuses connections.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("an address");
    shop.shop.add_elsewhere("shipping", closed);
    let payments = eshop_payments::build(shop.config.payments(&shop.shop))
        .await
        .expect("payments builds");
    let payments = eshop_test_support::run(payments).await;
    shop.shop.add_elsewhere(
        "payments",
        payments
            .address
            .trim_start_matches("http://")
            .parse()
            .expect("an address"),
    );

    let customer = ready_to_buy(&shop).await;
    let stock = shop.stock("DRONE-RACER-3").await;
    let response = shop.checkout(&customer, "shipping-down", wallet()).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "the checkout waits for shipping"
    );
    let id = response.headers()["x-checkout-id"]
        .to_str()
        .expect("an id")
        .to_owned();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let checkout = loop {
        let checkout: Value = shop
            .http
            .get(shop.url("payments", &format!("/v1/checkouts/{id}")))
            .bearer_auth(&customer.token)
            .send()
            .await
            .expect("payments answers")
            .json()
            .await
            .expect("a checkout");
        if checkout["status"] == "failed" {
            break checkout;
        }
        assert!(std::time::Instant::now() < deadline, "{checkout}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(checkout["failure"]["code"], "unavailable");
    assert_eq!(
        shop.stock("DRONE-RACER-3").await,
        stock,
        "the reserved stock went back"
    );
    assert_eq!(shop.balance(&customer).await, 200_000);
    let figures = shop.settle().await;
    assert_eq!((figures.orders, figures.failed_checkouts), (0, 1));
}

async fn a_cancelled_order_is_refunded_and_restocked(backend: TestBackend) {
    // Dispatch waits long enough for the cancellation to come first.
    let timing = Timing {
        dispatch_delay: Duration::from_secs(60),
        ..Timing::default()
    };
    let shop = spawn_with(backend, timing, &[]).await;
    let customer = ready_to_buy(&shop).await;
    let stock = shop.stock("DRONE-RACER-3").await;
    let response = shop.checkout(&customer, "to-cancel", wallet()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let checkout: Value = response.json().await.expect("JSON");
    let order = checkout["order_id"].as_str().expect("an order").to_owned();
    assert_eq!(shop.stock("DRONE-RACER-3").await, stock - 1);

    let cancelled = shop
        .http
        .post(shop.url("orders", &format!("/v1/orders/{order}/cancel")))
        .bearer_auth(&customer.token)
        .send()
        .await
        .expect("orders answers");
    assert_eq!(cancelled.status(), StatusCode::OK);
    shop.wait_for_order(&customer, &order, "cancelled").await;
    shop.eventually("stock", stock, || shop.stock("DRONE-RACER-3"))
        .await;
    shop.eventually("balance", 200_000, || shop.balance(&customer))
        .await;
    let figures = shop.settle().await;
    assert_eq!(figures.paid_orders_cents, 0);
    assert_eq!(figures.charged_cents, figures.refunded_cents);
}

async fn a_returned_order_is_refunded_and_restocked(shop: TestShop) {
    let customer = ready_to_buy(&shop).await;
    let stock = shop.stock("DRONE-RACER-3").await;
    let response = shop.checkout(&customer, "to-return", wallet()).await;
    let checkout: Value = response.json().await.expect("JSON");
    let order = checkout["order_id"].as_str().expect("an order").to_owned();
    shop.wait_for_order(&customer, &order, "delivered").await;

    let returned = shop
        .http
        .post(shop.url("orders", &format!("/v1/orders/{order}/return")))
        .bearer_auth(&customer.token)
        .send()
        .await
        .expect("orders answers");
    assert_eq!(returned.status(), StatusCode::OK);
    shop.wait_for_order(&customer, &order, "returned").await;
    shop.eventually("stock", stock, || shop.stock("DRONE-RACER-3"))
        .await;
    shop.eventually("balance", 200_000, || shop.balance(&customer))
        .await;
    let figures = shop.settle().await;
    assert_eq!(figures.paid_orders_cents, 0);
}
