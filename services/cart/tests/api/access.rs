//! Who reaches which cart: a user only their own, by token; an anonymous
//! visitor only their session's, by `x-session-id`; a token wins over a
//! session id; bad credentials are refused, never ignored; and the internal
//! endpoints need the internal credential.

use eshop_test_support::{TestKeys, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Shopper, TestApp, assert_error, expected, lines, ok_cart, spawn};

on_both_backends!(
    without_a_token_or_a_session_id_every_cart_endpoint_is_401,
    bad_and_expired_tokens_are_refused_even_with_a_session_id,
    malformed_session_ids_are_named,
    a_token_wins_over_a_session_id,
    users_only_ever_reach_their_own_cart,
    a_session_id_never_reaches_a_users_cart,
    checkout_reads_and_empties_a_users_cart_internally,
    internal_endpoints_need_the_internal_credential,
);

async fn without_a_token_or_a_session_id_every_cart_endpoint_is_401(app: TestApp) {
    app.product("ANY-1", 100, 5).await;
    let nobody = Shopper::nobody();
    let quantity = json!({"quantity": 1});
    let item = json!({"sku": "ANY-1", "quantity": 1});
    let session = json!({"session_id": Uuid::new_v4()});
    for (method, path, body) in [
        (Method::GET, "/v1/cart", None),
        (Method::DELETE, "/v1/cart", None),
        (Method::POST, "/v1/cart/items", Some(item)),
        (Method::PUT, "/v1/cart/items/ANY-1", Some(quantity)),
        (Method::DELETE, "/v1/cart/items/ANY-1", None),
        (Method::POST, "/v1/cart/merge", Some(session)),
    ] {
        let response = app.request(method.clone(), path, &nobody, body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
    }
}

async fn bad_and_expired_tokens_are_refused_even_with_a_session_id(app: TestApp) {
    app.product("ANY-1", 100, 5).await;
    let user = Uuid::new_v4();
    let session = Shopper::session();
    let other_keys = TestKeys::generate();
    for (token, code) in [
        ("not.a.token".to_owned(), "invalid_token"),
        (other_keys.token_for(user), "invalid_token"),
        (app.keys.expired_token_for(user), "token_expired"),
    ] {
        let shopper = session.clone().token(&token);
        assert_error(
            app.get_cart(&shopper).await,
            StatusCode::UNAUTHORIZED,
            code,
            None,
        )
        .await;
        assert_error(
            app.add(&shopper, "ANY-1", 1).await,
            StatusCode::UNAUTHORIZED,
            code,
            None,
        )
        .await;
    }
    let basic = session.clone().header("authorization", "Basic YWRhOnB3");
    assert_error(
        app.add(&basic, "ANY-1", 1).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        None,
    )
    .await;
    assert_eq!(
        lines(&app.cart(&session).await),
        expected(&[]),
        "nothing reached the session's cart"
    );
}

async fn malformed_session_ids_are_named(app: TestApp) {
    app.product("ANY-1", 100, 5).await;
    let too_long = format!("{}0", Uuid::new_v4());
    for session in [
        "",
        "abc",
        "not-a-uuid-at-all-but-36-characters",
        too_long.as_str(),
        "00000000-0000-0000-0000-000000000000",
    ] {
        let shopper = Shopper::nobody().header("x-session-id", session);
        assert_error(
            app.get_cart(&shopper).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("x-session-id"),
        )
        .await;
        assert_error(
            app.add(&shopper, "ANY-1", 1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("x-session-id"),
        )
        .await;
    }
}

async fn a_token_wins_over_a_session_id(app: TestApp) {
    app.product("MUG-1", 900, 5).await;
    let user = app.user();
    let session = Shopper::session();
    let both = session.clone().token(&app.keys.token_for(user.id));
    ok_cart(app.add(&both, "MUG-1", 2).await).await;
    assert_eq!(lines(&app.cart(&user).await), expected(&[("MUG-1", 2)]));
    assert_eq!(lines(&app.cart(&session).await), expected(&[]));
}

async fn users_only_ever_reach_their_own_cart(app: TestApp) {
    app.product("PEN-1", 150, 20).await;
    app.product("PEN-2", 160, 20).await;
    let (ada, bob) = (app.user(), app.user());
    ok_cart(app.add(&ada, "PEN-1", 3).await).await;

    assert_eq!(lines(&app.cart(&bob).await), expected(&[]));
    assert_error(
        app.remove(&bob, "PEN-1").await,
        StatusCode::NOT_FOUND,
        "not_found",
        Some("sku"),
    )
    .await;
    ok_cart(app.set(&bob, "PEN-1", 1).await).await;
    ok_cart(app.add(&bob, "PEN-2", 1).await).await;
    assert_eq!(app.clear(&bob).await.status(), StatusCode::NO_CONTENT);

    assert_eq!(lines(&app.cart(&ada).await), expected(&[("PEN-1", 3)]));
    assert_eq!(lines(&app.cart(&bob).await), expected(&[]));
}

async fn a_session_id_never_reaches_a_users_cart(app: TestApp) {
    app.product("BAG-1", 2000, 5).await;
    let user = app.user();
    ok_cart(app.add(&user, "BAG-1", 1).await).await;

    // Even the user's own id, sent as a session id, is a different cart.
    let lookalike = Shopper::session_with(user.id);
    assert_eq!(lines(&app.cart(&lookalike).await), expected(&[]));
    ok_cart(app.add(&lookalike, "BAG-1", 4).await).await;
    assert_eq!(app.clear(&lookalike).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(lines(&app.cart(&user).await), expected(&[("BAG-1", 1)]));
}

async fn checkout_reads_and_empties_a_users_cart_internally(app: TestApp) {
    app.product("BOOK-1", 1500, 5).await;
    let user = app.user();
    let users_view = ok_cart(app.add(&user, "BOOK-1", 2).await).await;

    let path = format!("/internal/carts/{}", user.id);
    let internal = ok_cart(app.internal(Method::GET, &path).await).await;
    assert_eq!(internal["lines"], users_view["lines"]);
    assert_eq!(internal["total_cents"], 3000);

    assert_eq!(
        app.internal(Method::DELETE, &path).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(lines(&app.cart(&user).await), expected(&[]));
    assert_eq!(
        app.internal(Method::DELETE, &path).await.status(),
        StatusCode::NO_CONTENT,
        "emptying an empty cart is fine"
    );

    let unknown = format!("/internal/carts/{}", Uuid::new_v4());
    let empty = ok_cart(app.internal(Method::GET, &unknown).await).await;
    assert_eq!(lines(&empty), expected(&[]));
    for method in [Method::GET, Method::DELETE] {
        assert_error(
            app.internal(method, "/internal/carts/not-a-uuid").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("user_id"),
        )
        .await;
    }
}

async fn internal_endpoints_need_the_internal_credential(app: TestApp) {
    app.product("KEY-1", 100, 5).await;
    let user = app.user();
    ok_cart(app.add(&user, "KEY-1", 1).await).await;
    let path = format!("/internal/carts/{}", user.id);
    for method in [Method::GET, Method::DELETE] {
        for shopper in [
            Shopper::nobody(),
            Shopper::nobody().header("x-internal-token", "guess"),
            user.clone(),
        ] {
            assert_error(
                app.request(method.clone(), &path, &shopper, None).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
            )
            .await;
        }
    }
    assert_eq!(lines(&app.cart(&user).await), expected(&[("KEY-1", 1)]));
}
