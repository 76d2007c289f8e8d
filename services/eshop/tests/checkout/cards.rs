//! No card number at rest: once a card is charged, or the checkout ends
//! without a charge, payments keeps only the card's brand and last four
//! digits; a retry with the same key and the full number is still the same
//! checkout.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestShop, card, spawn};

on_both_backends!(payments_keeps_no_card_number_once_it_is_done_with_it);

async fn payments_keeps_no_card_number_once_it_is_done_with_it(shop: TestShop) {
    let customer = shop.customer().await;
    shop.add_to_cart(&customer, "SENSOR-IMU-3", 1).await;
    let key = Uuid::new_v4().to_string();
    let paid = shop
        .checkout(&customer, &key, card("4242 4242 4242 4242"))
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.expect("JSON");

    shop.add_to_cart(&customer, "SENSOR-IMU-3", 1).await;
    let declined = shop
        .checkout(
            &customer,
            &Uuid::new_v4().to_string(),
            card("4000 0000 0000 0002"),
        )
        .await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);

    let stored = shop.stored_checkout_requests().await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    for request in &stored {
        let digits: String = request.chars().filter(char::is_ascii_digit).collect();
        assert!(
            !digits.contains("4242424242424242") && !digits.contains("4000000000000002"),
            "a full card number at rest: {request}"
        );
    }
    assert!(
        stored
            .iter()
            .any(|request| request.contains("visa ending 4242")),
        "{stored:?}"
    );
    assert!(
        stored
            .iter()
            .any(|request| request.contains("visa ending 0002")),
        "{stored:?}"
    );

    let again = shop
        .checkout(&customer, &key, card("4242 4242 4242 4242"))
        .await;
    let status = again.status();
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(status, StatusCode::CREATED, "the same checkout: {again}");
    assert_eq!(again["id"], paid["id"]);
    shop.settle().await;
}
