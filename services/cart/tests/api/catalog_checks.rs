//! What the catalog says decides what goes into a cart: products it does
//! not know are refused, no line holds more than it has in stock, and when
//! it cannot be reached nothing is added but the cart still reads.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;

use crate::helpers::{Shopper, TestApp, assert_error, expected, lines, ok_cart, spawn};

on_both_backends!(
    products_the_catalog_does_not_know_are_refused_naming_the_sku,
    quantities_above_the_stock_are_refused_saying_how_many_are_left,
    a_catalog_that_cannot_be_reached_is_503_and_the_cart_still_reads,
);

async fn products_the_catalog_does_not_know_are_refused_naming_the_sku(app: TestApp) {
    app.product("REAL-1", 100, 5).await;
    let shopper = app.user();
    let message = assert_error(
        app.add(&shopper, "GHOST-1", 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("sku"),
    )
    .await;
    assert!(message.contains("GHOST-1"), "{message}");
    assert_error(
        app.set(&shopper, "GHOST-1", 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("sku"),
    )
    .await;
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[]));
    let cart = ok_cart(app.add(&shopper, "REAL-1", 1).await).await;
    assert_eq!(lines(&cart), expected(&[("REAL-1", 1)]));
}

async fn quantities_above_the_stock_are_refused_saying_how_many_are_left(app: TestApp) {
    app.product("RARE-1", 5000, 3).await;
    app.product("GONE-1", 5000, 0).await;
    let shopper = Shopper::session();

    let message = assert_error(
        app.add(&shopper, "RARE-1", 4).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("quantity"),
    )
    .await;
    assert!(message.contains("only 3"), "{message}");
    ok_cart(app.add(&shopper, "RARE-1", 2).await).await;
    let message = assert_error(
        app.add(&shopper, "RARE-1", 2).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("quantity"),
    )
    .await;
    assert!(
        message.contains("only 3") && message.contains("already holds 2"),
        "{message}"
    );
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[("RARE-1", 2)]));

    assert_error(
        app.set(&shopper, "RARE-1", 4).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("quantity"),
    )
    .await;
    let cart = ok_cart(app.set(&shopper, "RARE-1", 3).await).await;
    assert_eq!(lines(&cart), expected(&[("RARE-1", 3)]));

    let message = assert_error(
        app.add(&shopper, "GONE-1", 1).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("quantity"),
    )
    .await;
    assert!(message.contains("only 0"), "{message}");

    // The stock shrinks below what the cart holds: it may be lowered, not raised.
    app.product("RARE-1", 5000, 1).await;
    assert_error(
        app.add(&shopper, "RARE-1", 1).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
        Some("quantity"),
    )
    .await;
    let cart = ok_cart(app.set(&shopper, "RARE-1", 1).await).await;
    assert_eq!(lines(&cart), expected(&[("RARE-1", 1)]));
}

async fn a_catalog_that_cannot_be_reached_is_503_and_the_cart_still_reads(mut app: TestApp) {
    app.product("SOLO-1", 700, 10).await;
    app.product("SOLO-2", 800, 10).await;
    let shopper = app.user();
    ok_cart(app.add(&shopper, "SOLO-1", 2).await).await;
    ok_cart(app.add(&shopper, "SOLO-2", 1).await).await;

    app.stop_catalog().await;
    assert_error(
        app.add(&shopper, "SOLO-1", 1).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
    )
    .await;
    assert_error(
        app.set(&shopper, "SOLO-2", 5).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
    )
    .await;
    assert_eq!(
        lines(&app.cart(&shopper).await),
        expected(&[("SOLO-1", 2), ("SOLO-2", 1)])
    );
    assert_eq!(
        app.remove(&shopper, "SOLO-2").await.status(),
        StatusCode::NO_CONTENT,
        "removing needs no catalog"
    );
    assert_eq!(lines(&app.cart(&shopper).await), expected(&[("SOLO-1", 2)]));
}
