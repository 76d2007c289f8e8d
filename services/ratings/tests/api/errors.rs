//! Bad input gets a 4xx in the shared error shape, naming the field; never a
//! 5xx, and nothing is written.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn};

on_both_backends!(
    rating_bodies_with_missing_or_wrong_fields_are_named,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_products_and_endpoints_are_not_found,
    out_of_range_and_mistyped_query_parameters_are_named,
);

async fn rating_bodies_with_missing_or_wrong_fields_are_named(app: TestApp) {
    let sku = app.add_product("BAD-1").await;
    let ada = app.user("Ada");
    let cases = [
        (json!({}), "stars"),
        (json!({"review": "No stars."}), "stars"),
        (json!({"stars": null}), "stars"),
        (json!({"stars": "five"}), "stars"),
        (json!({"stars": 4.5}), "stars"),
        (json!({"stars": 0}), "stars"),
        (json!({"stars": 6}), "stars"),
        (json!({"stars": -1}), "stars"),
        (json!({"stars": 99_999_999_999_u64}), "stars"),
        (json!({"stars": 4, "review": "x".repeat(501)}), "review"),
        (json!({"stars": 4, "review": 42}), "review"),
        (json!({"stars": 4, "review": ["a"]}), "review"),
        (json!({"stars": 4, "review": "null byte \u{0}"}), "review"),
        (json!({"stars": 4, "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let response = app.rate(&ada, &sku, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }

    assert_error(
        app.my_rating(&ada, &sku).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_eq!(app.summary(&sku).await, (None, 0), "nothing was written");

    let longest = format!("   {}   ", "ü".repeat(500));
    let taken = app
        .rate(&ada, &sku, json!({"stars": 5, "review": longest}))
        .await;
    assert_eq!(
        taken.status(),
        StatusCode::CREATED,
        "500 characters after trimming fit"
    );
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let sku = app.add_product("BODY-1").await;
    let ada = app.user("Ada");
    let url = app.url(&format!("/v1/products/{sku}/rating"));
    let send = |body: String, content_type: Option<&'static str>| {
        let mut request = app.http.put(&url).bearer_auth(&ada.token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let json = Some("application/json");

    let malformed = send("{\"stars\": ".to_owned(), json).await.expect("answer");
    assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json", None).await;
    let trailing = send("{\"stars\": 4} {}".to_owned(), json)
        .await
        .expect("answer");
    assert_error(trailing, StatusCode::BAD_REQUEST, "malformed_json", None).await;

    // Far more than any valid rating, though well under the server's 64 KiB.
    let escaped = "\\ud83d\\ude00".repeat(800);
    let oversize = send(format!("{{\"stars\": 4, \"review\": \"{escaped}\"}}"), json)
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
        "stars=4".to_owned(),
        Some("application/x-www-form-urlencoded"),
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
    let untyped = send("{\"stars\": 4}".to_owned(), None)
        .await
        .expect("answer");
    assert_error(
        untyped,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    )
    .await;

    // The longest valid review, every character escaped, still fits.
    let longest = "\\ud83d\\ude00".repeat(500);
    let fits = send(format!("{{\"stars\": 4, \"review\": \"{longest}\"}}"), json)
        .await
        .expect("answer");
    assert_eq!(fits.status(), StatusCode::CREATED);
    assert_eq!(
        app.summary(&sku).await,
        (Some(4.0), 1),
        "only the valid one was written"
    );
}

async fn unknown_products_and_endpoints_are_not_found(app: TestApp) {
    let ada = app.user("Ada");
    for sku in ["NO-SUCH-1", "lowercase", "X%20Y", &"A".repeat(33)] {
        let response = app.rate(&ada, sku, json!({"stars": 4})).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found", None).await;
        assert_error(
            app.my_rating(&ada, sku).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
        assert_error(
            app.unrate(&ada, sku).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
    assert_eq!(
        app.summary("NO-SUCH-1").await,
        (None, 0),
        "nothing was written"
    );
    for path in [
        "/v1/products/lowercase/ratings",
        "/v1/products/lowercase/reviews",
        "/v1/products/NO-SUCH-1/nothing",
        "/v1/nothing-here",
    ] {
        assert_error(
            app.get(path).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
    let wrong_method = app
        .as_user(
            Method::POST,
            "/v1/products/NO-SUCH-1/rating",
            &ada.token,
            None,
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

async fn out_of_range_and_mistyped_query_parameters_are_named(app: TestApp) {
    let too_many: Vec<String> = (0..101).map(|n| format!("P-{n}")).collect();
    let too_many = format!("/v1/ratings?skus={}", too_many.join(","));
    for (path, field) in [
        ("/v1/ratings", "skus"),
        ("/v1/ratings?skus=", "skus"),
        ("/v1/ratings?skus=A-1,,B-1", "skus"),
        ("/v1/ratings?skus=not-a-sku", "skus"),
        (too_many.as_str(), "skus"),
        ("/v1/ratings?skus=A-1&sort=best", "sort"),
        ("/v1/products/A-1/reviews?limit=0", "limit"),
        ("/v1/products/A-1/reviews?limit=51", "limit"),
        ("/v1/products/A-1/reviews?limit=-1", "limit"),
        ("/v1/products/A-1/reviews?limit=ten", "limit"),
        ("/v1/products/A-1/reviews?page=2", "page"),
    ] {
        assert_error(
            app.get(path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
}
