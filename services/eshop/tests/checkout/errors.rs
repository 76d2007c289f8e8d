//! Bad checkouts get a 4xx in the shared error shape, naming what is wrong,
//! and take nothing.

use eshop_test_support::{TestKeys, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestShop, checkout_body, error_code, spawn, wallet};

on_both_backends!(
    a_checkout_needs_an_idempotency_key_and_a_valid_body,
    a_key_reused_for_another_checkout_is_refused,
    a_checkout_needs_a_valid_unexpired_token,
    a_customer_sees_only_their_own_checkouts,
    what_any_later_step_would_refuse_is_refused_before_anything_is_charged,
    a_total_other_than_the_confirmed_one_is_refused_before_anything_is_taken,
);

async fn a_checkout_needs_an_idempotency_key_and_a_valid_body(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 100_000).await;
    shop.add_to_cart(&customer, "SENSOR-GAS-8", 1).await;
    let stock = shop.stock("SENSOR-GAS-8").await;
    let post = |key: Option<&str>, body: Value| {
        let mut request = shop
            .http
            .post(shop.url("payments", "/v1/checkouts"))
            .bearer_auth(&customer.token)
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let no_key = post(None, checkout_body(&wallet())).await.expect("answers");
    let body: Value = no_key.json().await.expect("JSON");
    assert_eq!(body["error"]["field"], "Idempotency-Key", "{body}");

    let mut missing_city = checkout_body(&wallet());
    missing_city["address"]
        .as_object_mut()
        .expect("an object")
        .remove("city_id");
    let bad_card = checkout_body(&json!({"method": "card", "card_number": "12"}));
    let unknown_method = checkout_body(&json!({"method": "cash"}));
    let mut blank_name = checkout_body(&wallet());
    blank_name["address"]["name"] = json!("  ");
    for (body, field) in [
        (missing_city, "address.city_id"),
        (bad_card, "payment.card_number"),
        (unknown_method, "payment"),
        (blank_name, "address.name"),
    ] {
        let response = post(Some(&Uuid::new_v4().to_string()), body)
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.expect("JSON");
        assert!(
            body["error"]["field"]
                .as_str()
                .is_some_and(|named| named.starts_with(field)),
            "expected {field}: {body}"
        );
    }
    let unknown_city = {
        let mut body = checkout_body(&wallet());
        body["address"]["city_id"] = json!("xx-nowhere");
        post(Some("unknown-city"), body).await.expect("answers")
    };
    assert_eq!(unknown_city.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shop.stock("SENSOR-GAS-8").await, stock, "nothing was taken");
    assert_eq!(shop.balance(&customer).await, 100_000);
    assert_eq!(shop.settle().await.orders, 0);
}

async fn a_key_reused_for_another_checkout_is_refused(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 100_000).await;
    shop.add_to_cart(&customer, "SENSOR-GAS-8", 1).await;
    let first = shop.checkout(&customer, "once", wallet()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let other = shop
        .checkout(
            &customer,
            "once",
            json!({"method": "card", "card_number": "4242424242424242"}),
        )
        .await;
    assert_eq!(
        error_code(other).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field".to_owned())
    );
    assert_eq!(shop.settle().await.orders, 1);
}

async fn a_checkout_needs_a_valid_unexpired_token(shop: TestShop) {
    let strangers_keys = TestKeys::generate();
    for token in [
        None,
        Some("not-a-token".to_owned()),
        Some(strangers_keys.token_for(Uuid::new_v4())),
        Some(strangers_keys.expired_token_for(Uuid::new_v4())),
    ] {
        let mut request = shop
            .http
            .post(shop.url("payments", "/v1/checkouts"))
            .header("idempotency-key", "k")
            .json(&checkout_body(&wallet()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

async fn a_customer_sees_only_their_own_checkouts(shop: TestShop) {
    let (ada, bob) = (shop.customer().await, shop.customer().await);
    shop.top_up(&ada, 100_000).await;
    shop.add_to_cart(&ada, "SENSOR-GAS-8", 1).await;
    let checkout: Value = shop
        .checkout(&ada, "mine", wallet())
        .await
        .json()
        .await
        .expect("JSON");
    let id = checkout["id"].as_str().expect("an id");
    let read = |token: &str| {
        shop.http
            .get(shop.url("payments", &format!("/v1/checkouts/{id}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        read(&ada.token).await.expect("answers").status(),
        StatusCode::OK
    );
    assert_eq!(
        read(&bob.token).await.expect("answers").status(),
        StatusCode::NOT_FOUND
    );
}

/// Every value the order would refuse after the charge is refused by
/// payments up front, naming the field; nothing is reserved or charged.
async fn what_any_later_step_would_refuse_is_refused_before_anything_is_charged(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 100_000).await;
    shop.add_to_cart(&customer, "SENSOR-GAS-8", 1).await;
    let stock = shop.stock("SENSOR-GAS-8").await;
    let cases = [
        ("name", "Ada\nLovelace"),
        ("name", "Ada\u{0}"),
        ("line1", "1 Rue\tde Rivoli"),
        ("line2", "Bâtiment B\r\n3e étage"),
        ("postal_code", "750\u{1b}01"),
        ("phone", "+33 1\u{7f}"),
    ];
    for (field, value) in cases {
        let mut body = checkout_body(&wallet());
        body["address"][field] = json!(value);
        let response = shop
            .http
            .post(shop.url("payments", "/v1/checkouts"))
            .bearer_auth(&customer.token)
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .expect("payments answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(
            answer["error"]["field"],
            format!("address.{field}"),
            "{answer}"
        );
    }
    assert_eq!(shop.balance(&customer).await, 100_000, "nothing charged");
    assert_eq!(shop.stock("SENSOR-GAS-8").await, stock, "nothing reserved");
    let figures = shop.settle().await;
    assert_eq!(figures.charged_cents, 0, "{figures}");
    assert_eq!(figures.orders, 0, "{figures}");
}

/// The customer pays what they confirmed, or nothing: a total other than
/// the one the shop would charge is refused before anything is reserved.
async fn a_total_other_than_the_confirmed_one_is_refused_before_anything_is_taken(shop: TestShop) {
    let customer = shop.customer().await;
    shop.top_up(&customer, 100_000).await;
    shop.add_to_cart(&customer, "SENSOR-GAS-8", 2).await;
    let stock = shop.stock("SENSOR-GAS-8").await;
    let send = |expected: i64| {
        let mut body = checkout_body(&wallet());
        body["expected_total_cents"] = json!(expected);
        shop.http
            .post(shop.url("payments", "/v1/checkouts"))
            .bearer_auth(&customer.token)
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
    };
    // What the shop would charge: the quote for the cart, as a storefront
    // shows it before the customer pays.
    let probe = send(0).await.expect("payments answers");
    assert_eq!(probe.status(), StatusCode::CONFLICT);
    let refused: Value = probe.json().await.expect("JSON");
    assert_eq!(refused["error"]["code"], "price_changed", "{refused}");
    assert_eq!(
        refused["error"]["field"], "expected_total_cents",
        "{refused}"
    );
    let total: i64 = refused["error"]["message"]
        .as_str()
        .and_then(|message| message.strip_prefix("the total is now "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|cents| cents.parse().ok())
        .expect("the message says the total");
    assert_eq!(shop.balance(&customer).await, 100_000, "nothing charged");
    assert_eq!(shop.stock("SENSOR-GAS-8").await, stock, "nothing reserved");

    let stale = send(total - 1).await.expect("payments answers");
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let paid = send(total).await.expect("payments answers");
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.expect("JSON");
    assert_eq!(paid["total_cents"], total);
    assert_eq!(shop.balance(&customer).await, 100_000 - total);
    let figures = shop.settle().await;
    assert_eq!(
        figures.charged_cents - figures.refunded_cents,
        total,
        "{figures}"
    );
}
