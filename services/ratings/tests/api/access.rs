//! Who may do what: user endpoints need a valid, unexpired token from users,
//! and a user only ever reaches their own rating. Summaries and reviews are
//! for everybody.

use eshop_test_support::{TestKeys, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, spawn};

on_both_backends!(
    user_endpoints_need_a_valid_token,
    a_user_only_reaches_their_own_rating,
    summaries_and_reviews_need_no_token,
);

async fn user_endpoints_need_a_valid_token(app: TestApp) {
    let sku = app.add_product("AUTH-1").await;
    let path = format!("/v1/products/{sku}/rating");
    let someone = Uuid::new_v4();
    let other_keys = TestKeys::generate();
    let tokens = [
        (app.keys.expired_token_for(someone), "token_expired"),
        (other_keys.token_for(someone), "invalid_token"),
        ("not.a.jwt".to_owned(), "invalid_token"),
    ];
    for method in [Method::PUT, Method::GET, Method::DELETE] {
        let body = json!({"stars": 5});
        let anonymous = app
            .http
            .request(method.clone(), app.url(&path))
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
        let basic = app
            .http
            .request(method.clone(), app.url(&path))
            .header("authorization", "Basic YWRhOnNlY3JldA==")
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_error(basic, StatusCode::UNAUTHORIZED, "invalid_token", None).await;
        for (token, code) in &tokens {
            let response = app
                .as_user(method.clone(), &path, token, Some(body.clone()))
                .await;
            assert_error(response, StatusCode::UNAUTHORIZED, code, None).await;
        }
    }
    assert_eq!(app.summary(&sku).await, (None, 0), "nothing was written");

    let valid = app.keys.token_for(someone);
    let response = app
        .as_user(Method::PUT, &path, &valid, Some(json!({"stars": 5})))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.json::<Value>().await.expect("JSON")["author"],
        "Test User"
    );
}

async fn a_user_only_reaches_their_own_rating(app: TestApp) {
    let sku = app.add_product("MINE-1").await;
    let (ada, bob) = (app.user("Ada"), app.user("Bob"));
    let adas = app.rate_ok(&ada, &sku, 5, Some("Mine.")).await;

    assert_error(
        app.my_rating(&bob, &sku).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.unrate(&bob, &sku).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let bobs = app
        .rate(&bob, &sku, json!({"stars": 1, "review": "Mine now."}))
        .await;
    assert_eq!(
        bobs.status(),
        StatusCode::CREATED,
        "Bob's is a rating of his own"
    );

    let still_adas: Value = app.my_rating(&ada, &sku).await.json().await.expect("JSON");
    assert_eq!(still_adas, adas);
    assert_eq!(app.summary(&sku).await, (Some(3.0), 2));

    assert_eq!(
        app.unrate(&bob, &sku).await.status(),
        StatusCode::NO_CONTENT
    );
    let still_adas: Value = app.my_rating(&ada, &sku).await.json().await.expect("JSON");
    assert_eq!(still_adas, adas);
    assert_eq!(app.summary(&sku).await, (Some(5.0), 1));
}

async fn summaries_and_reviews_need_no_token(app: TestApp) {
    let sku = app.add_product("OPEN-1").await;
    app.rate_ok(&app.user("Ada"), &sku, 4, Some("Nice.")).await;
    assert_eq!(app.summary(&sku).await, (Some(4.0), 1));
    assert_eq!(
        app.get_json(&format!("/v1/ratings?skus={sku}")).await,
        json!([{"sku": sku, "average": 4.0, "count": 1}])
    );
    assert_eq!(app.reviews(&sku, "").await.len(), 1);
}
