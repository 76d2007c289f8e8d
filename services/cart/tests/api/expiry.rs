//! Idle carts expire: with a time to live of one second, a cart reads empty
//! soon after its last write, a new write starts a fresh cart, and on the
//! embedded backend the worker deletes the expired cart.

use std::time::Duration;

use eshop_test_support::{TestBackend, on_both_backends};

use crate::helpers::{Shopper, TestApp, eventually, expected, lines, ok_cart, spawn_with};

on_both_backends!(an_idle_cart_expires_and_a_new_write_starts_afresh);

/// Carts of these tests live for one second.
async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Duration::from_secs(1)).await
}

async fn an_idle_cart_expires_and_a_new_write_starts_afresh(app: TestApp) {
    app.product("ICE-1", 300, 50).await;
    let (user, anonymous) = (app.user(), Shopper::session());
    let cart = ok_cart(app.add(&user, "ICE-1", 2).await).await;
    assert_eq!(lines(&cart), expected(&[("ICE-1", 2)]));
    ok_cart(app.add(&anonymous, "ICE-1", 3).await).await;

    for shopper in [&user, &anonymous] {
        eventually(Duration::from_secs(15), "the cart expires", || async {
            let cart = app.cart(shopper).await;
            lines(&cart).is_empty() && cart["expires_at"].is_null()
        })
        .await;
    }
    if app.backend == TestBackend::Embedded {
        eventually(
            Duration::from_secs(15),
            "the worker deletes both expired carts",
            || async {
                app.metrics()
                    .await
                    .contains("eshop_cart_carts_expired_total 2")
            },
        )
        .await;
    }

    let cart = ok_cart(app.add(&user, "ICE-1", 1).await).await;
    assert_eq!(
        lines(&cart),
        expected(&[("ICE-1", 1)]),
        "nothing of the expired cart comes back"
    );
}
