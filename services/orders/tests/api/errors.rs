//! Bad input gets a 4xx in the shared error shape, naming the field; never
//! a 5xx, and nothing is written. User endpoints need a valid, unexpired
//! token; internal ones the internal credential.

use eshop_test_support::{INTERNAL_TOKEN, TestKeys, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, id_of, order_body, spawn};

on_both_backends!(
    order_bodies_with_missing_or_wrong_fields_are_named,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_orders_and_endpoints_are_not_found,
    out_of_range_and_mistyped_list_parameters_are_named,
    user_endpoints_need_a_valid_unexpired_token,
    internal_endpoints_need_the_internal_credential,
);

async fn order_bodies_with_missing_or_wrong_fields_are_named(app: TestApp) {
    let valid = order_body(Uuid::new_v4());
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for field in [
        "checkout_id",
        "user_id",
        "lines",
        "shipping",
        "payment",
        "reservation_id",
    ] {
        let mut body = valid.clone();
        body.as_object_mut().expect("an object").remove(field);
        cases.push((body, field));
    }
    let mut no_city = valid.clone();
    no_city["shipping"]
        .as_object_mut()
        .expect("an object")
        .remove("city");
    cases.push((no_city, "shipping.city"));
    let mut too_many = valid.clone();
    too_many["lines"] = (0..51)
        .map(|n| json!({"sku": format!("SKU-{n}"), "name": "Thing", "quantity": 1, "unit_price_cents": 100}))
        .collect();
    cases.push((too_many, "lines"));
    for (pointer, value, field) in [
        ("/checkout_id", json!("not-a-uuid"), "checkout_id"),
        ("/user_id", json!(42), "user_id"),
        ("/lines", json!("ROBOT-ARM-2"), "lines"),
        ("/lines", json!([]), "lines"),
        ("/lines/0/quantity", json!("two"), "lines[0].quantity"),
        ("/lines/0/quantity", json!(-1), "lines[0].quantity"),
        ("/lines/0/quantity", json!(0), "lines[0].quantity"),
        ("/lines/0/quantity", json!(100), "lines[0].quantity"),
        (
            "/lines/1/unit_price_cents",
            json!(0),
            "lines[1].unit_price_cents",
        ),
        (
            "/lines/1/unit_price_cents",
            json!(1.5),
            "lines[1].unit_price_cents",
        ),
        ("/lines/1/sku", json!("ROBOT-ARM-2"), "lines[1].sku"),
        ("/lines/1/sku", json!("gear 7"), "lines[1].sku"),
        ("/lines/0/name", json!("  "), "lines[0].name"),
        ("/lines/0/name", json!("x".repeat(121)), "lines[0].name"),
        (
            "/shipping/country_code",
            json!("Netherlands"),
            "shipping.country_code",
        ),
        ("/shipping/city_id", json!("Rotterdam"), "shipping.city_id"),
        ("/shipping/quote_id", json!(null), "shipping.quote_id"),
        ("/shipping/cost_cents", json!(-5), "shipping.cost_cents"),
        (
            "/shipping/estimated_days",
            json!(400),
            "shipping.estimated_days",
        ),
        ("/shipping/line1", json!("x".repeat(201)), "shipping.line1"),
        ("/payment/method", json!("cash"), "payment.method"),
        ("/payment/charge_id", json!(""), "payment.charge_id"),
        ("/reservation_id", json!([]), "reservation_id"),
    ] {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).expect("the field exists") = value;
        cases.push((body, field));
    }
    let mut unknown = valid.clone();
    unknown["coupon"] = json!("FREE");
    cases.push((unknown, "coupon"));
    let mut unknown_inside = valid.clone();
    unknown_inside["lines"][0]["discount"] = json!(10);
    cases.push((unknown_inside, "lines[0].discount"));

    for (body, field) in cases {
        assert_error(
            app.create(&body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    let summary = app.summary().await;
    assert_eq!(
        summary["orders_by_status"]["paid"], 0,
        "nothing was written"
    );
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let url = app.url("/internal/orders");
    let send = |body: String, content_type: &'static str| {
        app.http
            .post(&url)
            .header("x-internal-token", INTERNAL_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = send("{\"lines\": [".to_owned(), "application/json")
        .await
        .expect("answer");
    assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    let mut huge = order_body(Uuid::new_v4());
    huge["shipping"]["line2"] = json!("x".repeat(70_000));
    let oversize = send(huge.to_string(), "application/json")
        .await
        .expect("answer");
    assert_error(
        oversize,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        None,
    )
    .await;
    let form = send("user_id=1".to_owned(), "application/x-www-form-urlencoded")
        .await
        .expect("answer");
    assert_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;
    assert_eq!(app.summary().await["orders_by_status"]["paid"], 0);
}

async fn unknown_orders_and_endpoints_are_not_found(app: TestApp) {
    let user = app.user();
    let id = Uuid::new_v4();
    for (method, path) in [
        (Method::GET, format!("/v1/orders/{id}")),
        (Method::GET, "/v1/orders/not-an-id".to_owned()),
        (Method::GET, format!("/v1/orders/{id}/invoice")),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
        (Method::POST, "/v1/orders/42/return".to_owned()),
        (Method::GET, "/v1/nothing-here".to_owned()),
    ] {
        assert_error(
            app.as_user(method, &path, &user).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
    for path in [
        format!("/internal/orders/by-checkout/{id}"),
        "/internal/orders/by-checkout/nope".to_owned(),
    ] {
        assert_error(
            app.internal(Method::GET, &path, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
    let order = app.place(&user).await;
    let wrong_method = app
        .as_user(
            Method::DELETE,
            &format!("/v1/orders/{}", id_of(&order)),
            &user,
        )
        .await;
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}

async fn out_of_range_and_mistyped_list_parameters_are_named(app: TestApp) {
    let user = app.user();
    for (query, field) in [
        ("per_page=51", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=10001", "page"),
        ("status=paid", "status"),
    ] {
        assert_error(
            app.as_user(Method::GET, &format!("/v1/orders?{query}"), &user)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
}

async fn user_endpoints_need_a_valid_unexpired_token(app: TestApp) {
    let user = app.user();
    let id = id_of(&app.place(&user).await);
    let other_keys = TestKeys::generate();
    let endpoints = [
        (Method::GET, "/v1/orders".to_owned()),
        (Method::GET, format!("/v1/orders/{id}")),
        (Method::GET, format!("/v1/orders/{id}/invoice")),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
        (Method::POST, format!("/v1/orders/{id}/return")),
    ];
    for (method, path) in &endpoints {
        let anonymous = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("answer");
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
        for (token, code) in [
            ("not.a.token".to_owned(), "invalid_token"),
            (other_keys.token_for(user.id), "invalid_token"),
            (app.keys.expired_token_for(user.id), "token_expired"),
        ] {
            assert_error(
                app.with_token(method.clone(), path, &token).await,
                StatusCode::UNAUTHORIZED,
                code,
                None,
            )
            .await;
        }
        let internal_only = app
            .http
            .request(method.clone(), app.url(path))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .expect("answer");
        assert_error(
            internal_only,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        )
        .await;
    }
    assert_eq!(app.order(&user, id).await["status"], "paid", "still paid");
}

async fn internal_endpoints_need_the_internal_credential(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let checkout = body["checkout_id"].as_str().expect("an id").to_owned();
    let endpoints = [
        (Method::POST, "/internal/orders".to_owned(), Some(body)),
        (
            Method::GET,
            format!("/internal/orders/by-checkout/{checkout}"),
            None,
        ),
        (Method::GET, "/internal/orders/summary".to_owned(), None),
    ];
    for (method, path, body) in endpoints {
        for credential in [None, Some("guess")] {
            let mut request = app
                .http
                .request(method.clone(), app.url(&path))
                .bearer_auth(&user.token);
            if let Some(credential) = credential {
                request = request.header("x-internal-token", credential);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.expect("answer");
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
        }
    }
    let list: Value = app
        .as_user(Method::GET, "/v1/orders", &user)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["total"], 0, "no order was made");
}
