//! Login rate limits: five failures per account from one address, fifty
//! per account from anywhere and twenty per client address in the window,
//! then 429 with `Retry-After`, so a stranger cannot lock the owner out;
//! concurrent guesses
//! count like consecutive ones; the client address is the gateway's
//! `x-forwarded-for` only when the gateway proves who it is; old failures
//! leave the window and are purged.

use std::time::{Duration, Instant};

use eshop_test_support::{INTERNAL_TOKEN, TestBackend, on_both_backends};
use futures::future::join_all;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, assert_error, send_retrying, spawn, spawn_with};

on_both_backends!(
    the_sixth_failed_login_for_an_account_is_refused_with_retry_after,
    a_successful_login_clears_the_account_s_failures,
    the_twenty_first_failure_from_an_address_is_refused_and_a_success_does_not_reset_it,
    forwarded_addresses_count_only_when_the_gateway_sends_them,
    concurrent_guesses_are_limited_like_consecutive_ones,
    wrong_current_passwords_count_against_the_account,
    a_stranger_s_guesses_do_not_lock_the_owner_out_from_another_address,
    guesses_from_many_addresses_are_stopped_by_the_account_s_own_limit,
);

/// The short window of the test of expiry: long enough for five failures
/// to fit in it on a busy machine.
const WINDOW: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_leave_the_window_and_are_purged_on_postgres() {
    failures_leave_the_window_and_are_purged(spawn_with(TestBackend::Server, WINDOW).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_leave_the_window_and_are_purged_on_sqlite() {
    failures_leave_the_window_and_are_purged(spawn_with(TestBackend::Embedded, WINDOW).await).await;
}

/// Asserts a 429 `rate_limited` whose `Retry-After` is 1 to `max` seconds.
async fn assert_limited(response: Response, max: u64) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=max).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        None,
    )
    .await;
}

async fn assert_invalid(response: Response) {
    assert_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        None,
    )
    .await;
}

/// A login sent by the gateway for a client at `client`.
async fn login_via_gateway(app: &TestApp, client: &str, email: &str, password: &str) -> Response {
    app.http
        .post(app.url("/v1/sessions"))
        .header("x-internal-token", INTERNAL_TOKEN)
        .header("x-forwarded-for", format!("{client}, 10.0.0.1"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("users answers")
}

async fn the_sixth_failed_login_for_an_account_is_refused_with_retry_after(app: TestApp) {
    app.user("target@example.com").await;
    for _ in 0..5 {
        assert_invalid(app.login("target@example.com", "guess").await).await;
    }
    assert_limited(app.login("target@example.com", "guess").await, 900).await;
    // Even the right password waits: the limit is checked before it.
    assert_limited(app.login("TARGET@example.com", PASSWORD).await, 900).await;
    // Other accounts from the same address are not affected.
    app.user("bystander@example.com").await;
    assert_eq!(
        app.login("bystander@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn a_successful_login_clears_the_account_s_failures(app: TestApp) {
    app.user("forgetful@example.com").await;
    for _ in 0..4 {
        assert_invalid(app.login("forgetful@example.com", "guess").await).await;
    }
    assert_eq!(
        app.login("forgetful@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    for _ in 0..5 {
        assert_invalid(app.login("forgetful@example.com", "guess").await).await;
    }
    assert_limited(app.login("forgetful@example.com", "guess").await, 900).await;
}

async fn the_twenty_first_failure_from_an_address_is_refused_and_a_success_does_not_reset_it(
    app: TestApp,
) {
    app.user("regular@example.com").await;
    // 19 failures spread over accounts that stay under their own limit.
    for n in 0..19 {
        assert_invalid(
            app.login(&format!("spray{}@example.com", n % 4), "guess")
                .await,
        )
        .await;
    }
    assert_eq!(
        app.login("regular@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_invalid(app.login("spray9@example.com", "guess").await).await;
    // Twenty failures from this address: even a right password waits.
    assert_limited(app.login("regular@example.com", PASSWORD).await, 900).await;
    assert_limited(app.login("fresh@example.com", "guess").await, 900).await;
}

async fn forwarded_addresses_count_only_when_the_gateway_sends_them(app: TestApp) {
    app.user("client@example.com").await;
    for n in 0..20 {
        let response = login_via_gateway(
            &app,
            "203.0.113.9",
            &format!("spray{}@example.com", n % 4),
            "guess",
        )
        .await;
        assert_invalid(response).await;
    }
    assert_limited(
        login_via_gateway(&app, "203.0.113.9", "client@example.com", PASSWORD).await,
        900,
    )
    .await;
    // Another client behind the gateway, and the gateway itself, are not limited.
    assert_eq!(
        login_via_gateway(&app, "198.51.100.4", "client@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login("client@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    // Without the credential, x-forwarded-for is ignored: the socket's
    // address counts, so claiming to be someone else does not escape a limit.
    for n in 0..20 {
        let response = app
            .http
            .post(app.url("/v1/sessions"))
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .json(&json!({"email": format!("other{}@example.com", n % 4), "password": "guess"}))
            .send()
            .await
            .expect("users answers");
        assert_invalid(response).await;
    }
    assert_limited(app.login("client@example.com", PASSWORD).await, 900).await;
    assert_eq!(
        login_via_gateway(&app, "198.51.100.4", "client@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn concurrent_guesses_are_limited_like_consecutive_ones(app: TestApp) {
    app.user("besieged@example.com").await;
    let responses = join_all((0..20).map(|n| {
        send_retrying(
            app.http
                .post(app.url("/v1/sessions"))
                .json(&json!({"email": "besieged@example.com", "password": format!("guess {n}")})),
        )
    }))
    .await;
    let mut invalid = 0;
    let mut limited = 0;
    for response in responses {
        match response.status() {
            StatusCode::UNAUTHORIZED => invalid += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert!(response.headers().contains_key("retry-after"));
            }
            other => panic!(
                "unexpected {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    assert_eq!((invalid, limited), (5, 15));
}

async fn wrong_current_passwords_count_against_the_account(app: TestApp) {
    let user = app.user("stolen@example.com").await;
    let change = |current: &'static str| {
        app.authed(
            Method::PUT,
            "/v1/users/me/password",
            &user.token,
            Some(json!({"current_password": current, "new_password": "taken over now"})),
        )
    };
    for _ in 0..5 {
        assert_error(
            change("guess").await,
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            Some("current_password"),
        )
        .await;
    }
    assert_limited(change(PASSWORD).await, 900).await;
    assert_limited(app.login("stolen@example.com", PASSWORD).await, 900).await;
}

async fn failures_leave_the_window_and_are_purged(app: TestApp) {
    app.user("patient@example.com").await;
    for _ in 0..5 {
        assert_invalid(app.login("patient@example.com", "guess").await).await;
    }
    assert_limited(
        app.login("patient@example.com", PASSWORD).await,
        WINDOW.as_secs(),
    )
    .await;
    assert!(app.failure_records().await > 0);

    let deadline = Instant::now() + Duration::from_secs(30);
    while app.failure_records().await > 0 {
        assert!(
            Instant::now() < deadline,
            "old failures were not purged within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.login("patient@example.com", PASSWORD).await.status(),
        StatusCode::OK,
        "once the failures left the window, the account logs in"
    );
}

async fn a_stranger_s_guesses_do_not_lock_the_owner_out_from_another_address(app: TestApp) {
    app.user("owner@example.com").await;
    for _ in 0..5 {
        assert_invalid(login_via_gateway(&app, "203.0.113.7", "owner@example.com", "guess").await)
            .await;
    }
    assert_limited(
        login_via_gateway(&app, "203.0.113.7", "owner@example.com", "guess").await,
        900,
    )
    .await;
    assert_limited(
        login_via_gateway(&app, "203.0.113.7", "owner@example.com", PASSWORD).await,
        900,
    )
    .await;
    let owner = login_via_gateway(&app, "198.51.100.2", "owner@example.com", PASSWORD).await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the owner, from home, logs in"
    );
}

async fn guesses_from_many_addresses_are_stopped_by_the_account_s_own_limit(app: TestApp) {
    app.user("famous@example.com").await;
    // Ten addresses, five guesses each: each stays under its own limit.
    for address in 1..=10 {
        for _ in 0..5 {
            assert_invalid(
                login_via_gateway(
                    &app,
                    &format!("203.0.113.{address}"),
                    "famous@example.com",
                    "guess",
                )
                .await,
            )
            .await;
        }
    }
    assert_limited(
        login_via_gateway(&app, "203.0.113.11", "famous@example.com", "guess").await,
        900,
    )
    .await;
}
