//! What everybody sees: a product's average and count, the summaries of
//! many products at once, and the latest reviews.

use eshop_test_support::on_both_backends;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

on_both_backends!(
    averages_have_one_decimal,
    summaries_of_many_products_come_in_the_order_asked,
    latest_reviews_come_newest_first_within_the_limit,
    a_changed_or_deleted_review_moves_or_leaves_the_latest,
);

async fn averages_have_one_decimal(app: TestApp) {
    let sku = app.add_product("ROUND-1").await;
    assert_eq!(app.summary(&sku).await, (None, 0), "nobody rated it yet");
    for (name, stars) in [("A", 5), ("B", 4), ("C", 4)] {
        app.rate_ok(&app.user(name), &sku, stars, None).await;
    }
    assert_eq!(app.summary(&sku).await, (Some(4.3), 3), "13 / 3");
    app.rate_ok(&app.user("D"), &sku, 5, None).await;
    assert_eq!(app.summary(&sku).await, (Some(4.5), 4), "18 / 4");
    app.rate_ok(&app.user("E"), &sku, 5, None).await;
    assert_eq!(app.summary(&sku).await, (Some(4.6), 5), "23 / 5");
    app.rate_ok(&app.user("F"), &sku, 1, None).await;
    assert_eq!(app.summary(&sku).await, (Some(4.0), 6), "24 / 6");
    app.rate_ok(&app.user("G"), &sku, 1, None).await;
    assert_eq!(app.summary(&sku).await, (Some(3.6), 7), "25 / 7 = 3.57");
}

async fn summaries_of_many_products_come_in_the_order_asked(app: TestApp) {
    let (a, b, c) = (
        app.add_product("LIST-A").await,
        app.add_product("LIST-B").await,
        app.add_product("LIST-C").await,
    );
    app.rate_ok(&app.user("One"), &a, 5, None).await;
    app.rate_ok(&app.user("Two"), &a, 4, None).await;
    app.rate_ok(&app.user("Three"), &c, 1, None).await;

    let summaries = app
        .get_json(&format!("/v1/ratings?skus={c},{a},{b},{a},NOT-IN-CATALOG"))
        .await;
    assert_eq!(
        summaries,
        json!([
            {"sku": c, "average": 1.0, "count": 1},
            {"sku": a, "average": 4.5, "count": 2},
            {"sku": b, "average": null, "count": 0},
            {"sku": "NOT-IN-CATALOG", "average": null, "count": 0},
        ])
    );
    let single = app.get_json(&format!("/v1/products/{a}/ratings")).await;
    assert_eq!(single, summaries[1]);

    let hundred: Vec<String> = (0..100).map(|n| format!("MANY-{n}")).collect();
    let many = app
        .get_json(&format!("/v1/ratings?skus={}", hundred.join(",")))
        .await;
    assert_eq!(many.as_array().expect("a list").len(), 100);
}

async fn latest_reviews_come_newest_first_within_the_limit(app: TestApp) {
    let sku = app.add_product("REV-1").await;
    for n in 0..12 {
        let stars = u8::try_from(n % 5 + 1).expect("small");
        app.rate_ok(
            &app.user(&format!("Reviewer {n}")),
            &sku,
            stars,
            Some(&format!("Review {n}")),
        )
        .await;
    }
    app.rate_ok(&app.user("Silent"), &sku, 3, None).await;
    app.rate_ok(&app.user("Blank"), &sku, 3, Some("   ")).await;

    let reviews = app.reviews(&sku, "").await;
    let expected: Vec<(String, u64, String)> = (2..12)
        .rev()
        .map(|n| (format!("Reviewer {n}"), n % 5 + 1, format!("Review {n}")))
        .collect();
    assert_eq!(
        reviews, expected,
        "ten by default, newest first, only texts"
    );

    let three = app.reviews(&sku, "?limit=3").await;
    assert_eq!(three, expected[..3]);
    let all = app.reviews(&sku, "?limit=50").await;
    assert_eq!(all.len(), 12);
    assert_eq!(all[11].2, "Review 0");

    let raw = app
        .get_json(&format!("/v1/products/{sku}/reviews?limit=1"))
        .await;
    let review = raw[0].as_object().expect("an object");
    let mut fields: Vec<&str> = review.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["author", "rated_at", "review", "stars"],
        "no user ids"
    );
    assert!(
        review["rated_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );

    assert_eq!(
        app.get_json("/v1/products/NOBODY-1/reviews").await,
        json!([])
    );
}

async fn a_changed_or_deleted_review_moves_or_leaves_the_latest(app: TestApp) {
    let sku = app.add_product("REV-2").await;
    let (ada, bob, cy) = (app.user("Ada"), app.user("Bob"), app.user("Cy"));
    app.rate_ok(&ada, &sku, 5, Some("First!")).await;
    app.rate_ok(&bob, &sku, 4, Some("Good.")).await;
    app.rate_ok(&cy, &sku, 3, Some("Okay.")).await;
    let authors = |reviews: Vec<(String, u64, String)>| -> Vec<String> {
        reviews.into_iter().map(|(author, ..)| author).collect()
    };
    assert_eq!(authors(app.reviews(&sku, "").await), ["Cy", "Bob", "Ada"]);

    let changed: Value = app
        .rate_ok(&ada, &sku, 2, Some("Broke after a week."))
        .await;
    assert_eq!(changed["review"], "Broke after a week.");
    assert_eq!(
        app.reviews(&sku, "").await,
        [
            ("Ada".to_owned(), 2, "Broke after a week.".to_owned()),
            ("Cy".to_owned(), 3, "Okay.".to_owned()),
            ("Bob".to_owned(), 4, "Good.".to_owned()),
        ]
    );

    app.rate_ok(&cy, &sku, 3, None).await;
    assert_eq!(
        authors(app.reviews(&sku, "").await),
        ["Ada", "Bob"],
        "no text, no review"
    );
    app.unrate(&bob, &sku).await;
    assert_eq!(authors(app.reviews(&sku, "").await), ["Ada"]);
    assert_eq!(app.summary(&sku).await, (Some(2.5), 2));
}
