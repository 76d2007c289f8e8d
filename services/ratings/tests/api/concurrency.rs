//! Ratings racing each other: however requests interleave, every rating is
//! counted once, a replaced rating adjusts the totals once, and a deleted
//! one is subtracted once.

use eshop_test_support::on_both_backends;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

on_both_backends!(
    fifty_users_rating_one_product_at_once_are_each_counted_once,
    one_user_rating_twenty_times_at_once_counts_once,
    one_rating_deleted_ten_times_at_once_is_subtracted_once,
);

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|status| **status == wanted).count()
}

async fn fifty_users_rating_one_product_at_once_are_each_counted_once(app: TestApp) {
    let sku = app.add_product("CROWD-1").await;
    let users: Vec<_> = (0..50).map(|n| app.user(&format!("User {n}"))).collect();
    let ratings = users.iter().enumerate().map(|(n, user)| {
        let stars = if n < 30 { 5 } else { 2 };
        app.rate(
            user,
            &sku,
            json!({"stars": stars, "review": format!("Review {n}")}),
        )
    });
    let statuses: Vec<StatusCode> = join_all(ratings)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(count(&statuses, StatusCode::CREATED), 50, "{statuses:?}");
    assert_eq!(
        app.summary(&sku).await,
        (Some(3.8), 50),
        "(30 × 5 + 20 × 2) / 50"
    );
    assert_eq!(app.reviews(&sku, "?limit=50").await.len(), 50);
}

async fn one_user_rating_twenty_times_at_once_counts_once(app: TestApp) {
    let sku = app.add_product("RACE-1").await;
    app.rate_ok(&app.user("Steady"), &sku, 5, None).await;
    let racer = app.user("Racer");
    let attempts = (0..20).map(|n| {
        app.rate(
            &racer,
            &sku,
            json!({"stars": n % 5 + 1, "review": format!("Take {n}")}),
        )
    });
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(
        (
            count(&statuses, StatusCode::CREATED),
            count(&statuses, StatusCode::OK)
        ),
        (1, 19),
        "one first rating, nineteen replacements: {statuses:?}"
    );

    let last: Value = app
        .my_rating(&racer, &sku)
        .await
        .json()
        .await
        .expect("JSON");
    let stars = last["stars"].as_f64().expect("stars");
    assert_eq!(app.summary(&sku).await, (Some((stars + 5.0) / 2.0), 2));
    let reviews = app.reviews(&sku, "?limit=50").await;
    assert_eq!(reviews.len(), 1, "one review per user: {reviews:?}");
    assert_eq!(Some(reviews[0].2.as_str()), last["review"].as_str());

    let replacements = (0..20).map(|n| app.rate(&racer, &sku, json!({"stars": n % 2 + 1})));
    let statuses: Vec<StatusCode> = join_all(replacements)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(count(&statuses, StatusCode::OK), 20, "{statuses:?}");
    let last: Value = app
        .my_rating(&racer, &sku)
        .await
        .json()
        .await
        .expect("JSON");
    let stars = last["stars"].as_f64().expect("stars");
    assert_eq!(app.summary(&sku).await, (Some((stars + 5.0) / 2.0), 2));
    assert!(app.reviews(&sku, "").await.is_empty());
}

async fn one_rating_deleted_ten_times_at_once_is_subtracted_once(app: TestApp) {
    let sku = app.add_product("GONE-1").await;
    let (leaving, staying) = (app.user("Leaving"), app.user("Staying"));
    app.rate_ok(&leaving, &sku, 5, Some("Bye.")).await;
    app.rate_ok(&staying, &sku, 2, Some("Here.")).await;
    let statuses: Vec<StatusCode> = join_all((0..10).map(|_| app.unrate(&leaving, &sku)))
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(
        (
            count(&statuses, StatusCode::NO_CONTENT),
            count(&statuses, StatusCode::NOT_FOUND)
        ),
        (1, 9),
        "{statuses:?}"
    );
    assert_eq!(app.summary(&sku).await, (Some(2.0), 1));
    assert_eq!(app.reviews(&sku, "").await.len(), 1);
}
