//! The happy path: register, top up the wallet, fill the cart, check out;
//! the order goes Paid, then Dispatched, then Delivered.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestShop, spawn, wallet};

on_both_backends!(a_checkout_is_paid_dispatched_and_delivered);

async fn a_checkout_is_paid_dispatched_and_delivered(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 500_000).await;
    let (arm, imu) = (
        shop.stock("ROBOT-ARM-2").await,
        shop.stock("SENSOR-IMU-3").await,
    );
    shop.add_to_cart(&customer, "ROBOT-ARM-2", 1).await;
    shop.add_to_cart(&customer, "SENSOR-IMU-3", 3).await;

    let response = shop
        .checkout(&customer, &Uuid::new_v4().to_string(), wallet())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let checkout: Value = response.json().await.expect("JSON");
    assert_eq!(checkout["status"], "completed");
    let total = checkout["total_cents"].as_i64().expect("a total");
    assert_eq!(checkout["items_cents"], 38_900 + 3 * 2_900);
    assert!(
        total > checkout["items_cents"].as_i64().expect("items"),
        "shipping costs something"
    );
    let order_id = checkout["order_id"].as_str().expect("an order").to_owned();

    let order = shop.order(&customer, &order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["total_cents"], total);
    assert_eq!(shop.stock("ROBOT-ARM-2").await, arm - 1);
    assert_eq!(shop.stock("SENSOR-IMU-3").await, imu - 3);
    assert_eq!(shop.balance(&customer).await, 500_000 - total);
    assert_eq!(shop.cart_items(&customer).await, 0, "the cart is cleared");

    shop.wait_for_order(&customer, &order_id, "dispatched")
        .await;
    let delivered = shop.wait_for_order(&customer, &order_id, "delivered").await;
    let history: Vec<&str> = delivered["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|entry| entry["status"].as_str().expect("a status"))
        .collect();
    assert_eq!(history, ["pending", "paid", "dispatched", "delivered"]);

    let figures = shop.settle().await;
    assert_eq!(figures.paid_orders_cents, total);
    assert_eq!(figures.charged_cents - figures.refunded_cents, total);
}
