//! Quotes: priced by distance and weight, read back with their status,
//! confirmed once per reference, expired when not confirmed in time, and
//! deleted once expired for the retention.

use std::time::{Duration, Instant};

use eshop_shipping::pricing;
use eshop_test_support::{TestBackend, on_both_backends};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, id_of, spawn, spawn_pruning, spawn_with};

on_both_backends!(
    a_quote_prices_a_parcel_to_a_city,
    farther_and_heavier_parcels_cost_more,
    distances_are_great_circle_kilometres_from_the_warehouse,
    a_confirmation_is_idempotent_per_reference,
    of_concurrent_confirmations_with_different_references_one_wins,
    quotes_made_and_confirmed_are_counted,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_quote_expires_on_postgres() {
    quotes_expire_unless_confirmed(spawn_with(TestBackend::Server, Duration::from_secs(3)).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_quote_expires_on_sqlite() {
    quotes_expire_unless_confirmed(spawn_with(TestBackend::Embedded, Duration::from_secs(3)).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_quotes_are_deleted_after_the_retention_on_postgres() {
    let app = spawn_pruning(
        TestBackend::Server,
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    expired_quotes_are_deleted_after_the_retention(app.await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_quotes_are_deleted_after_the_retention_on_sqlite() {
    let app = spawn_pruning(
        TestBackend::Embedded,
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    expired_quotes_are_deleted_after_the_retention(app.await).await;
}

async fn expired_quotes_are_deleted_after_the_retention(app: TestApp) {
    let open = app.quote("fr-paris", 1000).await;
    let confirmed = app.quote("fr-paris", 1000).await;
    assert_eq!(
        app.confirm(id_of(&confirmed), "order-1").await.status(),
        StatusCode::OK
    );
    // Expired, a quote still answers (with `expired`, as
    // `quotes_expire_unless_confirmed` shows) until the retention is over.
    let paths = [open, confirmed].map(|quote| format!("/v1/quotes/{}", id_of(&quote)));
    let deadline = Instant::now() + Duration::from_secs(30);
    for path in &paths {
        while app.get(path).await.status() != StatusCode::NOT_FOUND {
            assert!(Instant::now() < deadline, "{path} was never deleted");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn number(value: &Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is a number in {value}"))
}

fn time(value: &Value, field: &str) -> time::OffsetDateTime {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|error| panic!("{field}={text}: {error}"))
}

async fn a_quote_prices_a_parcel_to_a_city(app: TestApp) {
    let response = app.request_quote("fr-paris", 1200).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let quote: Value = response.json().await.expect("JSON");
    let id = id_of(&quote);
    assert!(Uuid::parse_str(id).is_ok(), "{quote}");
    assert_eq!(location, format!("/v1/quotes/{id}"));
    assert_eq!(quote["city"], app.get_json("/v1/cities/fr-paris").await);
    assert_eq!(quote["weight_grams"], 1200);
    let distance = number(&quote, "distance_km");
    assert_eq!(
        quote["cost_cents"],
        pricing::cost_cents(distance, 1200),
        "{quote}"
    );
    assert_eq!(quote["estimated_days"], 2);
    assert_eq!(quote["status"], "open");
    assert!(quote.get("reference").is_none(), "{quote}");
    assert!(quote.get("confirmed_at").is_none(), "{quote}");
    let lifetime = time(&quote, "expires_at") - time(&quote, "created_at");
    assert_eq!(lifetime, app.quote_ttl());
    let age = time::OffsetDateTime::now_utc() - time(&quote, "created_at");
    assert!(age.whole_seconds().abs() < 60, "made now: {quote}");

    assert_eq!(app.get_json(&location).await, quote);
}

async fn farther_and_heavier_parcels_cost_more(app: TestApp) {
    let mut last: Option<Value> = None;
    for city in [
        "nl-rotterdam",
        "be-antwerp",
        "fr-paris",
        "us-new-york",
        "au-sydney",
    ] {
        let quote = app.quote(city, 1000).await;
        if let Some(nearer) = &last {
            assert!(
                number(&quote, "distance_km") > number(nearer, "distance_km"),
                "{quote} is farther than {nearer}"
            );
            assert!(
                number(&quote, "cost_cents") > number(nearer, "cost_cents"),
                "{quote} costs more than {nearer}"
            );
            assert!(
                number(&quote, "estimated_days") >= number(nearer, "estimated_days"),
                "{quote} takes at least as long as {nearer}"
            );
        }
        last = Some(quote);
    }
    let mut last: Option<Value> = None;
    for weight in [1, 1001, 5000, 20_000, 50_000] {
        let quote = app.quote("fr-paris", weight).await;
        if let Some(lighter) = &last {
            assert!(
                number(&quote, "cost_cents") > number(lighter, "cost_cents"),
                "{quote} costs more than {lighter}"
            );
        }
        last = Some(quote);
    }
    let same_kilogram = (
        app.quote("fr-paris", 1).await,
        app.quote("fr-paris", 1000).await,
    );
    assert_eq!(
        same_kilogram.0["cost_cents"], same_kilogram.1["cost_cents"],
        "priced per started kilogram"
    );
}

async fn distances_are_great_circle_kilometres_from_the_warehouse(app: TestApp) {
    // Rotterdam to each city as the crow flies, with a 1% tolerance.
    for (city, km) in [
        ("fr-paris", 372.0),
        ("gb-london", 321.0),
        ("us-new-york", 5_855.0),
        ("au-sydney", 16_690.0),
    ] {
        let distance = number(&app.quote(city, 500).await, "distance_km");
        assert!(
            (distance - km).abs() <= km / 100.0,
            "Rotterdam to {city}: {distance} km, expected about {km}"
        );
        assert_eq!((distance * 10.0).round() / 10.0, distance, "one decimal");
    }
    let home = number(&app.quote("nl-rotterdam", 500).await, "distance_km");
    assert!(home < 1.0, "the warehouse's own city is {home} km away");
}

async fn a_confirmation_is_idempotent_per_reference(app: TestApp) {
    let quote = app.quote("de-berlin", 2000).await;
    let id = id_of(&quote);

    let first = app.confirm(id, "order-1").await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.expect("JSON");
    assert_eq!(first["status"], "confirmed");
    assert_eq!(first["reference"], "order-1");
    assert!(time(&first, "confirmed_at") >= time(&quote, "created_at"));
    for field in ["id", "city", "distance_km", "cost_cents", "expires_at"] {
        assert_eq!(first[field], quote[field], "{field} is kept");
    }

    for same in ["order-1", "  order-1 "] {
        let again = app.confirm(id, same).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.json::<Value>().await.expect("JSON"), first);
    }
    assert_error(
        app.confirm(id, "order-2").await,
        StatusCode::CONFLICT,
        "already_confirmed",
        None,
    )
    .await;
    assert_eq!(app.get_json(&format!("/v1/quotes/{id}")).await, first);

    assert_error(
        app.confirm(&Uuid::new_v4().to_string(), "order-1").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
}

async fn of_concurrent_confirmations_with_different_references_one_wins(app: TestApp) {
    let quote = app.quote("it-rome", 3000).await;
    let id = id_of(&quote);
    let references: Vec<String> = (0..10).map(|n| format!("checkout-{n}")).collect();
    let answers = join_all(
        references
            .iter()
            .map(|reference| app.confirm(id, reference)),
    )
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, refused), (1, 9), "{statuses:?}");
    let winner = references[statuses
        .iter()
        .position(|s| *s == StatusCode::OK)
        .expect("one won")]
    .clone();
    let stored = app.get_json(&format!("/v1/quotes/{id}")).await;
    assert_eq!(stored["status"], "confirmed");
    assert_eq!(stored["reference"], winner.as_str());
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("eshop_shipping_quotes_confirmed_total 1\n"),
        "{metrics}"
    );
}

async fn quotes_made_and_confirmed_are_counted(app: TestApp) {
    let quotes = [
        app.quote("es-madrid", 100).await,
        app.quote("pt-lisbon", 100).await,
        app.quote("ch-zurich", 100).await,
    ];
    app.confirm(id_of(&quotes[0]), "order-a").await;
    app.confirm(id_of(&quotes[0]), "order-a").await;
    app.confirm(id_of(&quotes[1]), "order-b").await;
    app.request_quote("xx-nowhere", 100).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("eshop_shipping_quotes_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("eshop_shipping_quotes_confirmed_total 2\n"),
        "{metrics}"
    );
}

async fn quotes_expire_unless_confirmed(app: TestApp) {
    let confirmed = app.quote("dk-copenhagen", 500).await;
    let confirmed = id_of(&confirmed).to_owned();
    let first = app.confirm(&confirmed, "order-early").await;
    assert_eq!(first.status(), StatusCode::OK, "confirmed in time");
    let first: Value = first.json().await.expect("JSON");

    let forgotten = app.quote("se-stockholm", 500).await;
    let forgotten = id_of(&forgotten).to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let quote = app.get_json(&format!("/v1/quotes/{forgotten}")).await;
        if quote["status"] == "expired" {
            assert!(time::OffsetDateTime::now_utc() >= time(&quote, "expires_at"));
            break;
        }
        assert_eq!(quote["status"], "open");
        assert!(Instant::now() < deadline, "still {quote} after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_error(
        app.confirm(&forgotten, "order-late").await,
        StatusCode::CONFLICT,
        "quote_expired",
        None,
    )
    .await;
    assert_eq!(
        app.get_json(&format!("/v1/quotes/{forgotten}")).await["status"],
        "expired",
        "a refused confirmation changes nothing"
    );

    // A confirmed quote stays confirmed, and its confirmation repeatable.
    assert_eq!(
        app.get_json(&format!("/v1/quotes/{confirmed}")).await,
        first
    );
    let again = app.confirm(&confirmed, "order-early").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.expect("JSON"), first);
}
