//! A user's own rating: created, replaced, read back and deleted, with the
//! product's average and count following every change.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::helpers::{TestApp, assert_error, spawn};

on_both_backends!(
    a_first_rating_is_created_and_a_second_replaces_it,
    replacing_a_rating_moves_the_average_but_not_the_count,
    deleting_a_rating_takes_it_out_of_the_summary,
    ratings_survive_a_restart,
);

async fn a_first_rating_is_created_and_a_second_replaces_it(app: TestApp) {
    let sku = app.add_product("RATE-1").await;
    let ada = app.user("Ada Lovelace");
    let before = OffsetDateTime::now_utc();

    let created = app
        .rate(
            &ada,
            &sku,
            json!({"stars": 4, "review": "  Solid, and quiet.  "}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("JSON");
    assert_eq!(created["sku"], sku);
    assert_eq!(created["stars"], 4);
    assert_eq!(created["review"], "Solid, and quiet.");
    assert_eq!(created["author"], ada.name.as_str());
    let rated_at = OffsetDateTime::parse(created["rated_at"].as_str().expect("a time"), &Rfc3339)
        .expect("an RFC 3339 time");
    assert!(
        rated_at
            >= before
                .replace_millisecond(before.millisecond())
                .expect("ms")
    );
    assert!(rated_at <= OffsetDateTime::now_utc());

    let mine = app.my_rating(&ada, &sku).await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.json::<Value>().await.expect("JSON"), created);
    assert_eq!(app.summary(&sku).await, (Some(4.0), 1));

    let replaced = app.rate(&ada, &sku, json!({"stars": 2})).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.expect("JSON");
    assert_eq!(replaced["stars"], 2);
    assert_eq!(
        replaced["review"],
        Value::Null,
        "a new rating replaces all of the old"
    );
    let mine: Value = app.my_rating(&ada, &sku).await.json().await.expect("JSON");
    assert_eq!(mine, replaced);
    assert_eq!(app.summary(&sku).await, (Some(2.0), 1));

    let blank = app
        .rate(&ada, &sku, json!({"stars": 3, "review": " \n "}))
        .await;
    assert_eq!(blank.status(), StatusCode::OK);
    assert_eq!(
        blank.json::<Value>().await.expect("JSON")["review"],
        Value::Null
    );
}

async fn replacing_a_rating_moves_the_average_but_not_the_count(app: TestApp) {
    let sku = app.add_product("AVG-1").await;
    let (first, second) = (app.user("First"), app.user("Second"));
    app.rate_ok(&first, &sku, 5, None).await;
    app.rate_ok(&second, &sku, 3, Some("Fine.")).await;
    assert_eq!(app.summary(&sku).await, (Some(4.0), 2));

    let changed = app.rate(&first, &sku, json!({"stars": 1})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(app.summary(&sku).await, (Some(2.0), 2));

    let same_again = app.rate(&first, &sku, json!({"stars": 1})).await;
    assert_eq!(same_again.status(), StatusCode::OK);
    assert_eq!(app.summary(&sku).await, (Some(2.0), 2));
}

async fn deleting_a_rating_takes_it_out_of_the_summary(app: TestApp) {
    let sku = app.add_product("DEL-1").await;
    let (ada, bob) = (app.user("Ada"), app.user("Bob"));
    app.rate_ok(&ada, &sku, 5, Some("Love it.")).await;
    app.rate_ok(&bob, &sku, 2, Some("Meh.")).await;
    assert_eq!(app.summary(&sku).await, (Some(3.5), 2));

    let deleted = app.unrate(&ada, &sku).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.summary(&sku).await, (Some(2.0), 1));
    assert_error(
        app.my_rating(&ada, &sku).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_eq!(
        app.reviews(&sku, "").await,
        [("Bob".to_owned(), 2, "Meh.".to_owned())],
        "a deleted rating's review is gone too"
    );
    assert_error(
        app.unrate(&ada, &sku).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_eq!(
        app.summary(&sku).await,
        (Some(2.0), 1),
        "deleting twice deletes once"
    );

    assert_eq!(
        app.unrate(&bob, &sku).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.summary(&sku).await, (None, 0));
    assert!(app.reviews(&sku, "").await.is_empty());

    let again = app.rate(&ada, &sku, json!({"stars": 4})).await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "rating after deleting is new"
    );
    assert_eq!(app.summary(&sku).await, (Some(4.0), 1));
}

async fn ratings_survive_a_restart(mut app: TestApp) {
    let sku = app.add_product("KEEP-1").await;
    let ada = app.user("Ada");
    let stored = app.rate_ok(&ada, &sku, 4, Some("Still here.")).await;
    app.restart_ratings().await;
    let mine: Value = app.my_rating(&ada, &sku).await.json().await.expect("JSON");
    assert_eq!(mine, stored);
    assert_eq!(app.summary(&sku).await, (Some(4.0), 1));
    assert_eq!(app.reviews(&sku, "").await.len(), 1);
}
