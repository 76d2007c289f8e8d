//! A shopper's cart: adding, setting, removing and clearing lines, totals,
//! prices as they were when added, the line limit, expiry refreshed by
//! writes, concurrent adds, and carts that outlive a restart.

use std::time::Duration;

use eshop_test_support::on_both_backends;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::helpers::{
    DEFAULT_TTL, Shopper, TestApp, assert_error, eventually, expected, lines, ok_cart, spawn,
};

on_both_backends!(
    an_unknown_cart_is_an_empty_cart,
    added_items_carry_the_catalogs_name_and_price,
    adding_again_adds_to_the_line_up_to_99,
    setting_a_quantity_replaces_it_or_adds_the_line,
    lines_are_removed_one_by_one_or_all_at_once,
    a_cart_holds_at_most_50_lines,
    prices_are_those_of_when_a_line_was_last_written,
    every_write_pushes_the_expiry_back,
    concurrent_adds_to_one_line_are_all_counted,
    a_cart_outlives_a_restart_of_the_service,
);

fn expires_at(cart: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(cart["expires_at"].as_str().expect("an expiry"), &Rfc3339)
        .expect("an RFC 3339 time")
}

async fn an_unknown_cart_is_an_empty_cart(app: TestApp) {
    for shopper in [app.user(), Shopper::session()] {
        let cart = app.cart(&shopper).await;
        assert_eq!(
            cart,
            json!({"lines": [], "item_count": 0, "total_cents": 0, "expires_at": null})
        );
    }
}

async fn added_items_carry_the_catalogs_name_and_price(app: TestApp) {
    app.product("ROBOT-1", 1999, 10).await;
    app.product("GEAR-2", 250, 10).await;
    let shopper = app.user();

    ok_cart(app.add(&shopper, "ROBOT-1", 2).await).await;
    let cart = ok_cart(app.add(&shopper, "GEAR-2", 3).await).await;
    assert_eq!(
        cart["lines"],
        json!([
            {"sku": "ROBOT-1", "name": "Product ROBOT-1", "unit_price_cents": 1999, "quantity": 2, "line_total_cents": 3998},
            {"sku": "GEAR-2", "name": "Product GEAR-2", "unit_price_cents": 250, "quantity": 3, "line_total_cents": 750},
        ])
    );
    assert_eq!(cart["item_count"], 5);
    assert_eq!(cart["total_cents"], 4748);
    let expiry = expires_at(&cart) - OffsetDateTime::now_utc();
    assert!(
        expiry > DEFAULT_TTL - Duration::from_secs(60) && expiry <= DEFAULT_TTL,
        "expires in {expiry}"
    );

    let read = app.cart(&shopper).await;
    assert_eq!(read["lines"], cart["lines"]);
    assert_eq!(read["total_cents"], 4748);

    let anonymous = Shopper::session();
    let cart = ok_cart(app.add(&anonymous, "GEAR-2", 1).await).await;
    assert_eq!(lines(&cart), expected(&[("GEAR-2", 1)]));
    assert_eq!(
        lines(&app.cart(&anonymous).await),
        expected(&[("GEAR-2", 1)])
    );

    let name = r#"Schneemann "☃" 1/2 \ Größe L"#;
    app.named_product("SNOW-1", name, 1, 1).await;
    ok_cart(app.add(&anonymous, "SNOW-1", 1).await).await;
    let cart = app.cart(&anonymous).await;
    assert_eq!(cart["lines"][1]["name"], name, "names make the round trip");
}

async fn adding_again_adds_to_the_line_up_to_99(app: TestApp) {
    app.product("BOLT-1", 5, 1000).await;
    let shopper = Shopper::session();
    ok_cart(app.add(&shopper, "BOLT-1", 2).await).await;
    let cart = ok_cart(app.add(&shopper, "BOLT-1", 3).await).await;
    assert_eq!(lines(&cart), expected(&[("BOLT-1", 5)]));
    assert_eq!(cart["lines"][0]["line_total_cents"], 25);

    let cart = ok_cart(app.add(&shopper, "BOLT-1", 94).await).await;
    assert_eq!(lines(&cart), expected(&[("BOLT-1", 99)]));
    let message = assert_error(
        app.add(&shopper, "BOLT-1", 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("quantity"),
    )
    .await;
    assert!(message.contains("99"), "{message}");
    assert_eq!(
        lines(&app.cart(&shopper).await),
        expected(&[("BOLT-1", 99)])
    );
}

async fn setting_a_quantity_replaces_it_or_adds_the_line(app: TestApp) {
    app.product("LAMP-1", 1200, 20).await;
    app.product("LAMP-2", 1300, 20).await;
    let shopper = app.user();
    let cart = ok_cart(app.set(&shopper, "LAMP-1", 4).await).await;
    assert_eq!(lines(&cart), expected(&[("LAMP-1", 4)]));
    ok_cart(app.set(&shopper, "LAMP-2", 2).await).await;
    let cart = ok_cart(app.set(&shopper, "LAMP-1", 1).await).await;
    assert_eq!(
        lines(&cart),
        expected(&[("LAMP-1", 1), ("LAMP-2", 2)]),
        "a line keeps its place when its quantity changes"
    );
    assert_eq!(cart["total_cents"], 1200 + 2 * 1300);
    let cart = ok_cart(app.set(&shopper, "LAMP-2", 20).await).await;
    assert_eq!(cart["item_count"], 21);
}

async fn lines_are_removed_one_by_one_or_all_at_once(app: TestApp) {
    app.product("CUP-1", 300, 10).await;
    app.product("CUP-2", 400, 10).await;
    let shopper = Shopper::session();
    ok_cart(app.add(&shopper, "CUP-1", 1).await).await;
    ok_cart(app.add(&shopper, "CUP-2", 2).await).await;

    assert_eq!(
        app.remove(&shopper, "CUP-1").await.status(),
        StatusCode::NO_CONTENT
    );
    let cart = app.cart(&shopper).await;
    assert_eq!(lines(&cart), expected(&[("CUP-2", 2)]));
    assert_eq!(cart["total_cents"], 800);
    assert_error(
        app.remove(&shopper, "CUP-1").await,
        StatusCode::NOT_FOUND,
        "not_found",
        Some("sku"),
    )
    .await;

    assert_eq!(app.clear(&shopper).await.status(), StatusCode::NO_CONTENT);
    let cart = app.cart(&shopper).await;
    assert_eq!(lines(&cart), expected(&[]));
    assert_eq!(cart["expires_at"], Value::Null);
    assert_eq!(
        app.clear(&shopper).await.status(),
        StatusCode::NO_CONTENT,
        "clearing an empty cart is fine"
    );

    ok_cart(app.add(&shopper, "CUP-2", 1).await).await;
    assert_eq!(
        app.remove(&shopper, "CUP-2").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.cart(&shopper).await["expires_at"],
        Value::Null,
        "removing the last line leaves an empty cart"
    );
}

async fn a_cart_holds_at_most_50_lines(app: TestApp) {
    for n in 1..=51 {
        app.product(&format!("PART-{n}"), 100, 5).await;
    }
    let shopper = app.user();
    for n in 1..=50 {
        ok_cart(app.add(&shopper, &format!("PART-{n}"), 1).await).await;
    }
    assert_error(
        app.add(&shopper, "PART-51", 1).await,
        StatusCode::CONFLICT,
        "cart_full",
        Some("sku"),
    )
    .await;
    assert_error(
        app.set(&shopper, "PART-51", 1).await,
        StatusCode::CONFLICT,
        "cart_full",
        Some("sku"),
    )
    .await;
    let cart = ok_cart(app.add(&shopper, "PART-50", 2).await).await;
    assert_eq!(cart["lines"].as_array().expect("lines").len(), 50);
    assert_eq!(cart["item_count"], 52);

    assert_eq!(
        app.remove(&shopper, "PART-1").await.status(),
        StatusCode::NO_CONTENT
    );
    let cart = ok_cart(app.add(&shopper, "PART-51", 1).await).await;
    assert_eq!(cart["lines"][49]["sku"], "PART-51");
}

async fn prices_are_those_of_when_a_line_was_last_written(app: TestApp) {
    app.product("CLOCK-1", 1999, 10).await;
    let shopper = app.user();
    ok_cart(app.add(&shopper, "CLOCK-1", 1).await).await;

    app.product("CLOCK-1", 2500, 10).await;
    let cart = app.cart(&shopper).await;
    assert_eq!(
        cart["lines"][0]["unit_price_cents"], 1999,
        "reading does not reprice"
    );

    let cart = ok_cart(app.add(&shopper, "CLOCK-1", 1).await).await;
    assert_eq!(cart["lines"][0]["unit_price_cents"], 2500);
    assert_eq!(cart["lines"][0]["line_total_cents"], 5000);
    assert_eq!(cart["total_cents"], 5000);
}

async fn every_write_pushes_the_expiry_back(app: TestApp) {
    app.product("FAN-1", 999, 50).await;
    let shopper = Shopper::session();
    let first = expires_at(&ok_cart(app.add(&shopper, "FAN-1", 1).await).await);
    let read = expires_at(&app.cart(&shopper).await);
    assert!(
        (read - first).abs() < Duration::from_millis(500),
        "reading leaves the expiry where the write put it: {first} then {read}"
    );
    let mut quantity = 1;
    eventually(
        Duration::from_secs(5),
        "a later write expires later",
        || {
            quantity = quantity % 9 + 1;
            let shopper = &shopper;
            let app = &app;
            async move {
                let cart = ok_cart(app.set(shopper, "FAN-1", quantity).await).await;
                expires_at(&cart) > first
            }
        },
    )
    .await;
}

async fn concurrent_adds_to_one_line_are_all_counted(app: TestApp) {
    app.product("NUT-1", 10, 100).await;
    app.product("NUT-2", 10, 100).await;
    let shopper = app.user();
    let adds = (0..30).map(|n| {
        let sku = if n % 3 == 0 { "NUT-2" } else { "NUT-1" };
        app.add(&shopper, sku, 1)
    });
    for response in join_all(adds).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let cart = app.cart(&shopper).await;
    let mut held = lines(&cart);
    held.sort();
    assert_eq!(held, expected(&[("NUT-1", 20), ("NUT-2", 10)]));
}

async fn a_cart_outlives_a_restart_of_the_service(mut app: TestApp) {
    app.product("DESK-1", 15_000, 3).await;
    let (user, anonymous) = (app.user(), Shopper::session());
    ok_cart(app.add(&user, "DESK-1", 2).await).await;
    ok_cart(app.add(&anonymous, "DESK-1", 1).await).await;

    app.restart_cart().await;
    assert_eq!(lines(&app.cart(&user).await), expected(&[("DESK-1", 2)]));
    assert_eq!(
        lines(&app.cart(&anonymous).await),
        expected(&[("DESK-1", 1)])
    );
}
