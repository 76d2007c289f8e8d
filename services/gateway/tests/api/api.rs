//! The JSON API: aggregated answers, sessions and anonymous carts, and a
//! whole purchase through the gateway.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{error_code, set_cookies, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_comes_with_its_rating_reviews_and_stock_in_one_call() {
    let shop = spawn().await;
    let token = shop.customer().await;
    let rated = shop
        .http
        .put(shop.url("/api/products/ROBOT-ARM-2/rating"))
        .bearer_auth(&token)
        .json(&json!({"stars": 4, "review": "Steady hands."}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(rated.status(), StatusCode::OK);

    let detail: Value = shop
        .http
        .get(shop.url("/api/products/ROBOT-ARM-2"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(detail["product"]["name"], "Desk Arm Two");
    assert!(detail["product"]["stock"].as_i64().expect("stock") > 0);
    assert_eq!(
        detail["product"]["image_url"],
        "/api/products/ROBOT-ARM-2/image.svg"
    );
    assert_eq!(detail["ratings"]["count"], 1);
    assert_eq!(detail["ratings"]["average"], 4.0);
    assert_eq!(detail["reviews"][0]["review"], "Steady hands.");
    assert_eq!(detail["my_rating"]["stars"], 4);
    assert_eq!(detail["degraded"], json!([]));

    let image = shop.get("/api/products/ROBOT-ARM-2/image.svg").await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(image.text().await.expect("SVG").contains("<svg"));

    let (status, code) = error_code(shop.get("/api/products/NO-SUCH-THING").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_carries_ratings_and_bad_queries_name_the_field() {
    let shop = spawn().await;
    let list: Value = shop
        .get("/api/products?category=drones&per_page=3")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        list["products"]["items"].as_array().expect("items").len(),
        3
    );
    assert_eq!(list["ratings"].as_array().expect("ratings").len(), 3);
    let bad = shop.get("/api/products?per_page=1000").await;
    let status = bad.status();
    let body: Value = bad.json().await.expect("JSON");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "per_page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_cart_joins_the_users_cart_at_login() {
    let shop = spawn().await;
    let session = Uuid::new_v4().to_string();
    let added = shop
        .http
        .post(shop.url("/api/cart/items"))
        .header("x-session-id", &session)
        .json(&json!({"sku": "SENSOR-IMU-3", "quantity": 2}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(added.status(), StatusCode::OK);

    let email = format!("{}@example.com", Uuid::new_v4().simple());
    let registered = shop
        .http
        .post(shop.url("/api/users"))
        .json(&json!({"email": email, "password": "correct horse battery", "name": "Ada"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login = shop
        .http
        .post(shop.url("/api/sessions"))
        .header("x-session-id", &session)
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = set_cookies(&login)
        .into_iter()
        .find(|cookie| cookie.starts_with("eshop_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "not over plain HTTP: {cookie}");
    let token = login.json::<Value>().await.expect("JSON")["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let cart: Value = shop
        .http
        .get(shop.url("/api/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(cart["item_count"], 2);
    assert_eq!(cart["lines"][0]["sku"], "SENSOR-IMU-3");

    let (status, code) = error_code(shop.get("/api/me").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let bad_token = shop
        .http
        .get(shop.url("/api/me"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(error_code(bad_token).await.1, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_through_the_api_is_paid_and_delivered() {
    let shop = spawn().await;
    let token = shop.customer().await;
    let topped_up = shop
        .http
        .post(shop.url("/api/wallet/top-ups"))
        .bearer_auth(&token)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({"amount_cents": 100_000, "card_number": "4242 4242 4242 4242"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(topped_up.status(), StatusCode::OK);
    let added = shop
        .http
        .post(shop.url("/api/cart/items"))
        .bearer_auth(&token)
        .json(&json!({"sku": "SENSOR-IMU-3", "quantity": 1}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(added.status(), StatusCode::OK);
    let quote: Value = shop
        .http
        .post(shop.url("/api/quotes"))
        .bearer_auth(&token)
        .json(&json!({"city_id": "fr-paris"}))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(quote["city"]["name"], "Paris");
    assert!(quote["cost_cents"].as_i64().expect("a cost") > 0);

    let body = json!({
        "address": {"name": "Ada", "line1": "1 Rue de Rivoli", "postal_code": "75001", "city_id": "fr-paris"},
        "payment": {"method": "wallet"},
    });
    let checkout = shop
        .http
        .post(shop.url("/api/checkouts"))
        .bearer_auth(&token)
        .header("idempotency-key", "first")
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(checkout.status(), StatusCode::CREATED);
    let checkout: Value = checkout.json().await.expect("JSON");
    let order = checkout["order_id"].as_str().expect("an order").to_owned();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let orders: Value = shop
            .http
            .get(shop.url("/api/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(orders["items"][0]["id"], order.as_str());
        if orders["items"][0]["status"] == "delivered" {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {orders}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let invoice = shop
        .http
        .get(shop.url(&format!("/api/orders/{order}/invoice")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(invoice.status(), StatusCode::OK);
    assert!(
        invoice
            .text()
            .await
            .expect("HTML")
            .contains("Nine-Axis IMU")
    );

    let added = shop
        .http
        .post(shop.url("/api/cart/items"))
        .bearer_auth(&token)
        .json(&json!({"sku": "SENSOR-IMU-3", "quantity": 1}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(added.status(), StatusCode::OK);
    let declined = shop
        .http
        .post(shop.url("/api/checkouts"))
        .bearer_auth(&token)
        .header("idempotency-key", "second")
        .json(&json!({
            "address": body["address"],
            "payment": {"method": "card", "card_number": "4000 0000 0000 0002"},
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        error_code(declined).await,
        (StatusCode::PAYMENT_REQUIRED, "card_declined".to_owned())
    );
}

/// Small faults of the API's edge: a malformed anonymous session is refused
/// (not silently swapped for another cart), the `Bearer` scheme and media
/// types are case-insensitive, and a non-ASCII `Idempotency-Key` is invalid
/// rather than missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_of_the_api_reads_headers_as_the_rfcs_say_and_names_bad_ones() {
    let shop = spawn().await;
    let add = |session: &str| {
        shop.http
            .put(shop.url("/api/cart/items/ROBOT-ARM-2"))
            .header("x-session-id", session)
            .json(&json!({"quantity": 1}))
            .send()
    };
    for malformed in ["not-a-uuid", "0b0e4b0c-8a3c-4d47-9d1c", "{}"] {
        let response = add(malformed).await.expect("the gateway answers");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("x-session-id")),
            "{malformed}: {body}"
        );
    }
    let session = Uuid::new_v4().to_string();
    assert_eq!(
        add(&session).await.expect("answers").status(),
        StatusCode::OK
    );

    let token = shop.customer().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let wallet = shop
            .http
            .get(shop.url("/api/wallet"))
            .header(header::AUTHORIZATION, format!("{scheme} {token}"))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(wallet.status(), StatusCode::OK, "scheme {scheme}");
    }
    let rated = shop
        .http
        .put(shop.url("/api/products/ROBOT-ARM-2/rating"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "Application/JSON; charset=UTF-8")
        .body(r#"{"stars": 5}"#)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        rated.status(),
        StatusCode::OK,
        "media types are case-insensitive"
    );

    let top_up = |key: header::HeaderValue| {
        shop.http
            .post(shop.url("/api/wallet/top-ups"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&json!({"amount_cents": 1000, "card_number": "4242 4242 4242 4242"}))
            .send()
    };
    let not_ascii = top_up(header::HeaderValue::from_bytes("clé".as_bytes()).expect("a value"))
        .await
        .expect("the gateway answers");
    let status = not_ascii.status();
    let body: Value = not_ascii.json().await.expect("JSON");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "Idempotency-Key");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("printable ASCII")),
        "invalid, not missing: {body}"
    );
}

/// An API client whose checkout outlasts the gateway's wait gets the
/// checkout and its location, never a false failure: 202 while it runs, or
/// 201 when it has completed by the time the gateway looked it up; it ends
/// paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_checkout_answers_202_with_where_to_follow_it() {
    let shop = crate::helpers::spawn_with_slow_payments(Duration::from_millis(1500), |settings| {
        settings.checkout_timeout = Duration::from_millis(500);
    })
    .await;
    let token = shop.customer().await;
    let topped_up = shop
        .http
        .post(shop.url("/api/wallet/top-ups"))
        .bearer_auth(&token)
        .header("idempotency-key", "top-up")
        .json(&json!({"amount_cents": 100_000, "card_number": "4242 4242 4242 4242"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(topped_up.status(), StatusCode::OK);
    let added = shop
        .http
        .post(shop.url("/api/cart/items"))
        .bearer_auth(&token)
        .json(&json!({"sku": "SENSOR-IMU-3", "quantity": 1}))
        .send()
        .await
        .expect("the gateway answers");
    assert!(added.status().is_success());
    let checkout = shop
        .http
        .post(shop.url("/api/checkouts"))
        .bearer_auth(&token)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&json!({
            "address": {"name": "Ada", "line1": "1 Rue de Rivoli", "postal_code": "75001", "city_id": "fr-paris"},
            "payment": {"method": "wallet"},
        }))
        .send()
        .await
        .expect("the gateway answers");
    assert!(
        [StatusCode::ACCEPTED, StatusCode::CREATED].contains(&checkout.status()),
        "{}",
        checkout.status()
    );
    let location = checkout.headers()[header::LOCATION]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let body: Value = checkout.json().await.expect("JSON");
    assert_eq!(
        location,
        format!("/api/checkouts/{}", body["id"].as_str().expect("an id"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let followed: Value = shop
            .http
            .get(shop.url(&location))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("JSON");
        if followed["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "{followed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
