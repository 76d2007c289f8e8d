//! Many at once: a hundred customers after the last ten units, and one
//! checkout sent five times at once with one key.

use eshop_test_support::on_both_backends;
use futures::{StreamExt, future::join_all, stream};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestShop, spawn, wallet};

on_both_backends!(
    a_hundred_customers_after_the_last_ten_units,
    one_checkout_sent_five_times_at_once_orders_and_charges_once,
);

async fn a_hundred_customers_after_the_last_ten_units(shop: TestShop) {
    // Customers arrive a few at a time; they all check out at once.
    let customers: Vec<_> = stream::iter(0..100)
        .map(|_| async {
            let customer = shop.customer().await;
            shop.top_up(&customer, 100_000).await;
            shop.add_to_cart(&customer, "SENSOR-IMU-3", 1).await;
            customer
        })
        .buffer_unordered(4)
        .collect()
        .await;
    shop.set_stock("SENSOR-IMU-3", 10).await;

    let answers = join_all(
        customers
            .iter()
            .map(|customer| shop.checkout_patiently(customer, "last-units", wallet())),
    )
    .await;
    let completed = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let sold_out = answers
        .iter()
        .filter(|(status, body)| {
            *status == StatusCode::CONFLICT && body["error"]["code"] == "out_of_stock"
        })
        .count();
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            format!(
                "{} {}",
                status.as_u16(),
                body["error"]["code"].as_str().unwrap_or("")
            )
        })
        .collect();
    outcomes.sort();
    outcomes.dedup_by(|a, b| a == b);
    eprintln!(
        "100 checkouts of the last 10 units: {completed} completed, {sold_out} out of stock; stock left {}; outcomes {outcomes:?}",
        shop.stock("SENSOR-IMU-3").await
    );
    assert_eq!((completed, sold_out), (10, 90), "{answers:?}");
    assert_eq!(shop.stock("SENSOR-IMU-3").await, 0);

    let paid: i64 = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body["total_cents"].as_i64().expect("a total"))
        .sum();
    let figures = shop.settle().await;
    assert_eq!(figures.orders, 10);
    assert_eq!(figures.paid_orders_cents, paid);
    assert_eq!(figures.charged_cents - figures.refunded_cents, paid);
}

async fn one_checkout_sent_five_times_at_once_orders_and_charges_once(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 200_000).await;
    shop.add_to_cart(&customer, "AI-TPU-HAT", 2).await;

    let answers =
        join_all((0..5).map(|_| shop.checkout_patiently(&customer, "five-times", wallet()))).await;
    let orders: Vec<&Value> = answers.iter().map(|(_, body)| &body["order_id"]).collect();
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::CREATED),
        "{answers:?}"
    );
    assert!(
        orders.iter().all(|order| *order == orders[0]),
        "one order: {orders:?}"
    );

    let total = answers[0].1["total_cents"].as_i64().expect("a total");
    assert_eq!(
        shop.balance(&customer).await,
        200_000 - total,
        "charged once"
    );
    let figures = shop.settle().await;
    assert_eq!((figures.orders, figures.charged_cents), (1, total));
}
