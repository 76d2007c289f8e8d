//! Logging in: the anonymous cart joins the user's cart, once, however many
//! merges race, within the limits of a cart.

use eshop_test_support::on_both_backends;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Shopper, TestApp, assert_error, expected, lines, ok_cart, spawn};

on_both_backends!(
    logging_in_merges_the_anonymous_cart_into_the_users,
    merging_an_empty_or_unknown_session_changes_nothing,
    merging_needs_a_user_token_and_a_session_id,
    merged_lines_stay_within_99_units_and_50_lines,
    concurrent_merges_move_each_line_once,
);

async fn logging_in_merges_the_anonymous_cart_into_the_users(app: TestApp) {
    app.product("TEA-1", 450, 50).await;
    app.product("TEA-2", 550, 50).await;
    app.product("TEA-3", 650, 50).await;
    let user = app.user();
    let session = Shopper::session();
    ok_cart(app.add(&user, "TEA-1", 3).await).await;
    ok_cart(app.add(&user, "TEA-3", 1).await).await;
    ok_cart(app.add(&session, "TEA-2", 1).await).await;
    app.product("TEA-1", 400, 50).await;
    ok_cart(app.add(&session, "TEA-1", 2).await).await;

    let merged = ok_cart(app.merge(&user, &session.id.to_string()).await).await;
    assert_eq!(
        lines(&merged),
        expected(&[("TEA-1", 5), ("TEA-3", 1), ("TEA-2", 1)]),
        "lines the user had keep their place; new ones follow"
    );
    assert_eq!(
        merged["lines"][0]["unit_price_cents"], 400,
        "a summed line takes the anonymous line's price"
    );
    assert_eq!(merged["total_cents"], 5 * 400 + 650 + 550);
    assert_eq!(merged["item_count"], 7);
    assert!(merged["expires_at"].is_string());

    assert_eq!(app.cart(&user).await["lines"], merged["lines"]);
    assert_eq!(
        lines(&app.cart(&session).await),
        expected(&[]),
        "the anonymous cart is gone"
    );
}

async fn merging_an_empty_or_unknown_session_changes_nothing(app: TestApp) {
    app.product("JAM-1", 300, 10).await;
    let user = app.user();
    let before = ok_cart(app.add(&user, "JAM-1", 2).await).await;

    let emptied = Shopper::session();
    ok_cart(app.add(&emptied, "JAM-1", 1).await).await;
    assert_eq!(app.clear(&emptied).await.status(), StatusCode::NO_CONTENT);
    for session in [Uuid::new_v4(), emptied.id] {
        let after = ok_cart(app.merge(&user, &session.to_string()).await).await;
        assert_eq!(after["lines"], before["lines"]);
        assert_eq!(after["expires_at"], before["expires_at"]);
    }

    let fresh_user = app.user();
    let empty = ok_cart(app.merge(&fresh_user, &Uuid::new_v4().to_string()).await).await;
    assert_eq!(lines(&empty), expected(&[]));
    assert_eq!(empty["expires_at"], Value::Null);
}

async fn merging_needs_a_user_token_and_a_session_id(app: TestApp) {
    app.product("FIG-1", 300, 10).await;
    let session = Shopper::session();
    ok_cart(app.add(&session, "FIG-1", 1).await).await;
    let target = session.id.to_string();

    assert_error(
        app.merge(&session, &target).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    )
    .await;
    let expired = Shopper::nobody().token(&app.keys.expired_token_for(Uuid::new_v4()));
    assert_error(
        app.merge(&expired, &target).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
        None,
    )
    .await;
    let user = app.user();
    for bad in ["", "FIG-1", "00000000-0000-0000-0000-000000000000"] {
        assert_error(
            app.merge(&user, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("session_id"),
        )
        .await;
    }
    assert_eq!(
        lines(&app.cart(&session).await),
        expected(&[("FIG-1", 1)]),
        "refused merges leave the anonymous cart alone"
    );
}

async fn merged_lines_stay_within_99_units_and_50_lines(app: TestApp) {
    for n in 1..=52 {
        app.product(&format!("BIT-{n}"), 10, 1000).await;
    }
    let user = app.user();
    let session = Shopper::session();
    ok_cart(app.add(&user, "BIT-1", 50).await).await;
    for n in 2..=49 {
        ok_cart(app.add(&user, &format!("BIT-{n}"), 1).await).await;
    }
    ok_cart(app.add(&session, "BIT-1", 60).await).await;
    for n in 50..=52 {
        ok_cart(app.add(&session, &format!("BIT-{n}"), 1).await).await;
    }

    let merged = ok_cart(app.merge(&user, &session.id.to_string()).await).await;
    let held = lines(&merged);
    assert_eq!(held.len(), 50);
    assert_eq!(held[0], ("BIT-1".to_owned(), 99));
    assert_eq!(
        held[49],
        ("BIT-50".to_owned(), 1),
        "the oldest new line fills the last place"
    );
    assert_eq!(lines(&app.cart(&session).await), expected(&[]));
}

async fn concurrent_merges_move_each_line_once(app: TestApp) {
    app.product("OAT-1", 100, 50).await;
    app.product("OAT-2", 200, 50).await;
    let user = app.user();
    let session = Shopper::session();
    ok_cart(app.add(&user, "OAT-1", 1).await).await;
    ok_cart(app.add(&session, "OAT-1", 2).await).await;
    ok_cart(app.add(&session, "OAT-2", 3).await).await;

    let target = session.id.to_string();
    let merges = (0..12).map(|_| app.merge(&user, &target));
    for response in join_all(merges).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let cart = app.cart(&user).await;
    assert_eq!(lines(&cart), expected(&[("OAT-1", 3), ("OAT-2", 3)]));
    assert_eq!(lines(&app.cart(&session).await), expected(&[]));
}
