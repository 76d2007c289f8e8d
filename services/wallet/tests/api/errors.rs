//! Bad input and bad credentials get a 4xx in the shared error shape, naming
//! the field at fault; never a 5xx, and no money moves.

use eshop_test_support::{INTERNAL_TOKEN, TestKeys, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{GOOD_CARD, TestApp, assert_error, spawn, wallet_charge};

on_both_backends!(
    user_endpoints_need_a_valid_unexpired_token,
    internal_endpoints_need_the_internal_credential,
    top_ups_need_a_well_formed_idempotency_key,
    top_up_bodies_with_missing_wrong_or_out_of_range_fields_are_named,
    charge_and_refund_bodies_with_missing_wrong_or_out_of_range_fields_are_named,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_endpoints_and_methods_are_refused,
);

async fn user_endpoints_need_a_valid_unexpired_token(app: TestApp) {
    let user = Uuid::new_v4();
    let other_keys = TestKeys::generate();
    let body = json!({"amount_cents": 100, "card_number": GOOD_CARD});
    let cases = [
        (None, "unauthorized"),
        (Some("Bearer".to_owned()), "invalid_token"),
        (Some("Bearer not.a.token".to_owned()), "invalid_token"),
        (
            Some(format!("Basic {}", app.keys.token_for(user))),
            "invalid_token",
        ),
        (
            Some(format!("Bearer {}", other_keys.token_for(user))),
            "invalid_token",
        ),
        (
            Some(format!("Bearer {}", app.keys.expired_token_for(user))),
            "token_expired",
        ),
    ];
    for (authorization, code) in cases {
        let mut get = app.http.get(app.url("/v1/wallet"));
        let mut post = app
            .http
            .post(app.url("/v1/wallet/top-ups"))
            .header("Idempotency-Key", "k")
            .json(&body);
        if let Some(authorization) = &authorization {
            get = get.header("authorization", authorization);
            post = post.header("authorization", authorization);
        }
        for request in [get, post] {
            let response = request.send().await.expect("answer");
            assert_error(response, StatusCode::UNAUTHORIZED, code, None).await;
        }
    }
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["accounts"], 0, "no wallet was opened");
}

async fn internal_endpoints_need_the_internal_credential(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let charge_id = app.charge_wallet(&user, 100).await;
    let endpoints = [
        (
            Method::POST,
            "/internal/charges".to_owned(),
            Some(wallet_charge("k", &user, 100)),
        ),
        (
            Method::POST,
            "/internal/refunds".to_owned(),
            Some(json!({"idempotency_key": "k", "charge_id": charge_id, "amount_cents": 100})),
        ),
        (Method::GET, format!("/internal/charges/{charge_id}"), None),
        (Method::GET, "/internal/ledger".to_owned(), None),
    ];
    for (method, path, body) in endpoints {
        for token in [None, Some("guess"), Some("")] {
            let mut request = app.http.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.header("x-internal-token", token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.expect("answer");
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
        }
        let as_user = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("answer");
        assert_eq!(
            as_user.status(),
            StatusCode::UNAUTHORIZED,
            "a user token is not the internal credential"
        );
    }
    assert_eq!(app.balance(&user).await, 900);
    assert_eq!(app.charge_by_id(charge_id).await["refunded_cents"], 0);
    app.assert_money_conserved().await;
}

async fn top_ups_need_a_well_formed_idempotency_key(app: TestApp) {
    let user = app.new_user();
    let body = json!({"amount_cents": 100, "card_number": GOOD_CARD});
    let missing = app
        .http
        .post(app.url("/v1/wallet/top-ups"))
        .bearer_auth(&user.token)
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("Idempotency-Key"),
    )
    .await;
    let too_long = "k".repeat(101);
    for key in ["", too_long.as_str()] {
        assert_error(
            app.top_up(&user, key, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("Idempotency-Key"),
        )
        .await;
    }
    let not_ascii = app
        .http
        .post(app.url("/v1/wallet/top-ups"))
        .bearer_auth(&user.token)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).expect("a header value"),
        )
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(
        not_ascii,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("Idempotency-Key"),
    )
    .await;
    let longest = "k".repeat(100);
    assert_eq!(
        app.top_up(&user, &longest, body).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.balance(&user).await, 100);
    app.assert_money_conserved().await;
}

async fn top_up_bodies_with_missing_wrong_or_out_of_range_fields_are_named(app: TestApp) {
    let user = app.new_user();
    let valid = json!({"amount_cents": 100, "card_number": GOOD_CARD});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for field in ["amount_cents", "card_number"] {
        let mut missing = valid.clone();
        missing.as_object_mut().expect("object").remove(field);
        cases.push((missing, field));
    }
    for (field, value) in [
        ("amount_cents", json!("100")),
        ("amount_cents", json!(1.5)),
        ("amount_cents", json!(0)),
        ("amount_cents", json!(-100)),
        ("amount_cents", json!(1_000_001)),
        ("card_number", json!(4_242_424_242_424_242_i64)),
        ("card_number", json!("4242424242424241")),
        ("card_number", json!("4242-4242-4242-4242")),
        ("card_number", json!("424242424242424")),
        ("card_number", json!("42424242424242420")),
        ("card_number", json!("")),
        ("colour", json!("red")),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body, field));
    }
    for (index, (body, field)) in cases.into_iter().enumerate() {
        assert_error(
            app.top_up(&user, &format!("bad-{index}"), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(
        app.top_up(&user, "bad-0", valid).await.status(),
        StatusCode::CREATED,
        "invalid requests are not kept under their key"
    );
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["top_ups_cents"], 100);
}

async fn charge_and_refund_bodies_with_missing_wrong_or_out_of_range_fields_are_named(
    app: TestApp,
) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let valid = wallet_charge("charge-key", &user, 100);
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for field in [
        "idempotency_key",
        "user_id",
        "amount_cents",
        "reference",
        "payment",
    ] {
        let mut missing = valid.clone();
        missing.as_object_mut().expect("object").remove(field);
        cases.push((missing, field));
    }
    for (field, value, named) in [
        ("idempotency_key", json!(""), "idempotency_key"),
        ("idempotency_key", json!("k".repeat(101)), "idempotency_key"),
        ("idempotency_key", json!("tab\tkey"), "idempotency_key"),
        ("user_id", json!("not-a-uuid"), "user_id"),
        ("amount_cents", json!(0), "amount_cents"),
        ("amount_cents", json!(10_000_001), "amount_cents"),
        ("amount_cents", json!("100"), "amount_cents"),
        ("reference", json!(""), "reference"),
        ("reference", json!("r".repeat(101)), "reference"),
        ("payment", json!({}), "payment.method"),
        ("payment", json!({"method": "cash"}), "payment.method"),
        ("payment", json!({"method": "card"}), "payment.card_number"),
        (
            "payment",
            json!({"method": "card", "card_number": "1234567812345678"}),
            "payment.card_number",
        ),
        (
            "payment",
            json!({"method": "wallet", "card_number": GOOD_CARD}),
            "payment.card_number",
        ),
        (
            "payment",
            json!({"method": "wallet", "pin": "1234"}),
            "payment.pin",
        ),
        ("extra", json!(true), "extra"),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body, named));
    }
    for (body, field) in cases {
        assert_error(
            app.charge(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    let charge_id = app.charge_wallet(&user, 100).await;
    let refund =
        json!({"idempotency_key": "refund-key", "charge_id": charge_id, "amount_cents": 50});
    let mut refund_cases: Vec<(Value, &str)> = Vec::new();
    for field in ["idempotency_key", "charge_id", "amount_cents"] {
        let mut missing = refund.clone();
        missing.as_object_mut().expect("object").remove(field);
        refund_cases.push((missing, field));
    }
    for (field, value) in [
        ("idempotency_key", json!("")),
        ("charge_id", json!(42)),
        ("charge_id", json!("nope")),
        ("amount_cents", json!(0)),
        ("amount_cents", json!(-1)),
        ("amount_cents", json!(10_000_001)),
        ("reason", json!("changed my mind")),
    ] {
        let mut body = refund.clone();
        body[field] = value;
        refund_cases.push((body, field));
    }
    for (body, field) in refund_cases {
        assert_error(
            app.refund(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    assert_eq!(
        app.balance(&user).await,
        900,
        "only the valid charge moved money"
    );
    assert_eq!(app.charge_by_id(charge_id).await["refunded_cents"], 0);
    let totals = app.assert_money_conserved().await;
    assert_eq!(
        (
            totals["charged_cents"].as_i64(),
            totals["refunded_cents"].as_i64()
        ),
        (Some(100), Some(0))
    );
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let user = app.new_user();
    let top_up = |body: String, content_type: &'static str| {
        app.http
            .post(app.url("/v1/wallet/top-ups"))
            .bearer_auth(&user.token)
            .header("Idempotency-Key", "k")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let charge = |body: String, content_type: &'static str| {
        app.http
            .post(app.url("/internal/charges"))
            .header("x-internal-token", INTERNAL_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let oversize = format!(
        "{{\"amount_cents\": 100, \"card_number\": \"{}\"}}",
        " ".repeat(70_000)
    );
    for (body, content_type, status, code) in [
        (
            "{\"amount_cents\": ".to_owned(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "[1, 2]".to_owned(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            oversize,
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "amount_cents=100".to_owned(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        let response = top_up(body.clone(), content_type).await.expect("answer");
        assert_eq!(response.status(), status);
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["error"]["code"], code, "{error}");
        let response = charge(body, content_type).await.expect("answer");
        assert_eq!(response.status(), status);
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["entries"], 0);
}

async fn unknown_endpoints_and_methods_are_refused(app: TestApp) {
    let user = app.new_user();
    assert_error(
        app.http
            .get(app.url("/v1/wallets"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("answer"),
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.http
            .delete(app.url("/v1/wallet"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("answer"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
    assert_error(
        app.internal(Method::GET, "/internal/refunds", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}
