//! Bad input gets a 4xx in the shared error shape, naming the field; never a
//! 5xx, and nothing is written.

use eshop_test_support::{INTERNAL_TOKEN, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, id_of, spawn};

on_both_backends!(
    city_search_parameters_are_checked,
    quote_bodies_with_missing_wrong_or_out_of_range_fields_are_named,
    a_quote_for_an_unknown_city_names_city_id,
    confirmation_bodies_are_checked,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_quotes_and_endpoints_are_not_found,
    confirming_needs_the_internal_credential,
);

async fn city_search_parameters_are_checked(app: TestApp) {
    let long = "a".repeat(61);
    for (query, field) in [
        ("", "q"),
        ("country=FR", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=%21%3F", "q"),
        (&format!("q={long}"), "q"),
        ("q=par&limit=0", "limit"),
        ("q=par&limit=51", "limit"),
        ("q=par&limit=ten", "limit"),
        ("q=par&limit=-1", "limit"),
        ("q=par&country=fr", "country"),
        ("q=par&country=FRA", "country"),
        ("q=par&country=F1", "country"),
        ("q=par&sort=name", "sort"),
    ] {
        let response = app.get(&format!("/v1/cities?{query}")).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    // The longest search is fine, counted in characters, not bytes.
    assert!(
        app.search(&format!("q={}", "a".repeat(60)))
            .await
            .is_empty()
    );
    assert!(
        app.search(&format!("q={}", "%C3%A9".repeat(60)))
            .await
            .is_empty()
    );
}

async fn quote_bodies_with_missing_wrong_or_out_of_range_fields_are_named(app: TestApp) {
    let valid = json!({"city_id": "fr-paris", "weight_grams": 1000});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for field in ["city_id", "weight_grams"] {
        let mut missing = valid.clone();
        missing.as_object_mut().expect("object").remove(field);
        cases.push((missing, field));
    }
    for (field, value) in [
        ("weight_grams", json!("heavy")),
        ("weight_grams", json!(-1)),
        ("weight_grams", json!(0)),
        ("weight_grams", json!(50_001)),
        ("weight_grams", json!(1.5)),
        ("weight_grams", json!(null)),
        ("weight_grams", json!(u64::MAX)),
        ("city_id", json!(42)),
        ("city_id", json!("")),
        ("city_id", json!("Paris")),
        ("city_id", json!("x".repeat(65))),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body, field));
    }
    let mut unknown = valid.clone();
    unknown["express"] = json!(true);
    cases.push((unknown, "express"));
    for (body, field) in cases {
        assert_error(
            app.post_json("/v1/quotes", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    for weight in [1, 50_000] {
        app.quote("fr-paris", weight).await;
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("eshop_shipping_quotes_total 2\n"),
        "only the valid quotes were made: {metrics}"
    );
}

async fn a_quote_for_an_unknown_city_names_city_id(app: TestApp) {
    assert_error(
        app.request_quote("xx-nowhere", 1000).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("city_id"),
    )
    .await;
}

async fn confirmation_bodies_are_checked(app: TestApp) {
    let quote = app.quote("fr-lyon", 1000).await;
    let id = id_of(&quote);
    let path = format!("/internal/quotes/{id}/confirm");
    for (body, field) in [
        (json!({}), "reference"),
        (json!({"reference": 7}), "reference"),
        (json!({"reference": ""}), "reference"),
        (json!({"reference": "   "}), "reference"),
        (json!({"reference": "line\nbreak"}), "reference"),
        (json!({"reference": "x".repeat(101)}), "reference"),
        (json!({"reference": "order-1", "note": "x"}), "note"),
    ] {
        assert_error(
            app.internal(reqwest::Method::POST, &path, Some(body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(
        app.get_json(&format!("/v1/quotes/{id}")).await["status"],
        "open",
        "nothing was confirmed"
    );
    let longest = "x".repeat(100);
    let confirmed = app.confirm(id, &longest).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.expect("JSON");
    assert_eq!(confirmed["reference"], longest.as_str());
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let quote = app.quote("fr-lille", 1000).await;
    let confirm = app.url(&format!("/internal/quotes/{}/confirm", id_of(&quote)));
    let quotes = app.url("/v1/quotes");
    for url in [&quotes, &confirm] {
        let send = |body: String, content_type: &'static str| {
            app.http
                .post(url.as_str())
                .header("x-internal-token", INTERNAL_TOKEN)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        for malformed in ["{\"", "{", "not json"] {
            let response = send(malformed.to_owned(), "application/json")
                .await
                .expect("answer");
            assert_error(response, StatusCode::BAD_REQUEST, "malformed_json", None).await;
        }
        let oversize = send(
            format!("{{\"reference\": \"{}\"}}", "x".repeat(70_000)),
            "application/json",
        )
        .await
        .expect("answer");
        assert_error(
            oversize,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        )
        .await;
        let form = send(
            "city_id=fr-paris".to_owned(),
            "application/x-www-form-urlencoded",
        )
        .await
        .expect("answer");
        assert_error(
            form,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        )
        .await;
    }
    assert_eq!(
        app.get_json(&format!("/v1/quotes/{}", id_of(&quote))).await["status"],
        "open"
    );
}

async fn unknown_quotes_and_endpoints_are_not_found(app: TestApp) {
    let unknown = Uuid::new_v4();
    assert_error(
        app.get(&format!("/v1/quotes/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/v1/quotes/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
        None,
    )
    .await;
    assert_error(
        app.confirm("not-a-uuid", "order-1").await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
        None,
    )
    .await;
    assert_error(
        app.get("/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let wrong_method = app
        .http
        .delete(app.url("/v1/quotes"))
        .send()
        .await
        .expect("answer");
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}

async fn confirming_needs_the_internal_credential(app: TestApp) {
    let quote = app.quote("at-vienna", 1000).await;
    let url = app.url(&format!("/internal/quotes/{}/confirm", id_of(&quote)));
    let body = json!({"reference": "order-1"});
    let anonymous = app
        .http
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    let wrong = app
        .http
        .post(&url)
        .header("x-internal-token", "guess")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    assert_eq!(
        app.get_json(&format!("/v1/quotes/{}", id_of(&quote))).await["status"],
        "open",
        "nothing was confirmed"
    );
}
