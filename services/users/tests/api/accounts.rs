//! Accounts: registration, logins and their tokens, the profile, password
//! changes, the public key, and the look-up other services use.

use std::time::Duration;

use eshop_platform::auth::JwtVerifier;
use eshop_test_support::on_both_backends;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, assert_error, send_retrying, spawn};

on_both_backends!(
    registration_creates_an_account_with_a_normalised_email,
    the_password_is_stored_as_an_argon2id_hash,
    a_taken_email_is_refused_whatever_its_case,
    twenty_concurrent_registrations_of_one_email_create_one_account,
    a_login_returns_a_bearer_token_that_the_published_key_verifies,
    an_unknown_email_and_a_wrong_password_get_the_same_answer,
    the_profile_is_the_token_s_user_and_can_be_renamed,
    a_password_change_needs_the_current_password,
    other_services_look_users_up_with_the_internal_credential,
);

fn timestamp(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a string"), &Rfc3339).expect("RFC 3339")
}

async fn registration_creates_an_account_with_a_normalised_email(app: TestApp) {
    let before = OffsetDateTime::now_utc() - Duration::from_secs(1);
    let response = app
        .register("  Ada.Lovelace@Example.COM ", PASSWORD, "  Ada Lovelace ")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "email", "id", "name"], "{body}");
    let id: Uuid = body["id"].as_str().expect("id").parse().expect("a uuid");
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(body["email"], "ada.lovelace@example.com");
    assert_eq!(body["name"], "Ada Lovelace");
    let created_at = timestamp(&body["created_at"]);
    assert!(created_at >= before && created_at <= OffsetDateTime::now_utc());

    let login = app.login("ADA.LOVELACE@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let session: Value = login.json().await.expect("JSON");
    assert_eq!(session["user"], body);
}

async fn the_password_is_stored_as_an_argon2id_hash(app: TestApp) {
    app.user("hashed@example.com").await;
    let hash = app
        .stored_password_hash("hashed@example.com")
        .await
        .expect("the account is stored");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    app.user("other@example.com").await;
    let other = app
        .stored_password_hash("other@example.com")
        .await
        .expect("the account is stored");
    assert_ne!(hash, other, "the same password gets a different salt");
}

async fn a_taken_email_is_refused_whatever_its_case(app: TestApp) {
    app.user("taken@example.com").await;
    let again = app
        .register(" TAKEN@example.com", "another password", "Impostor")
        .await;
    assert_error(again, StatusCode::CONFLICT, "email_taken", Some("email")).await;
    // The first account is untouched: its password and name still hold.
    let login = app.login("taken@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let session: Value = login.json().await.expect("JSON");
    assert_eq!(session["user"]["name"], "Test User");
    assert_error(
        app.login("taken@example.com", "another password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        None,
    )
    .await;
}

async fn twenty_concurrent_registrations_of_one_email_create_one_account(app: TestApp) {
    let responses = join_all((0..20).map(|n| {
        send_retrying(app.http.post(app.url("/v1/users")).json(&json!({
            "email": "race@example.com",
            "password": format!("password number {n}"),
            "name": format!("Racer {n}"),
        })))
    }))
    .await;
    let mut created = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created.push(response.json::<Value>().await.expect("JSON")),
            _ => {
                assert_error(response, StatusCode::CONFLICT, "email_taken", Some("email")).await;
            }
        }
    }
    assert_eq!(created.len(), 1, "exactly one registration wins");
    let winner = created[0]["name"].as_str().expect("a name");
    let n = winner.strip_prefix("Racer ").expect("a racer");
    let login = app
        .login("race@example.com", &format!("password number {n}"))
        .await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the winner's password holds"
    );
}

async fn a_login_returns_a_bearer_token_that_the_published_key_verifies(app: TestApp) {
    let registered: Value = app
        .register("token@example.com", PASSWORD, "Tok En")
        .await
        .json()
        .await
        .expect("JSON");
    let response = app.login("token@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.expect("JSON");
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["user"], registered);
    let expires_at = timestamp(&session["expires_at"]);
    let in_an_hour = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    assert!(
        (expires_at - in_an_hour).abs() < time::Duration::seconds(10),
        "{expires_at} is an hour from now"
    );

    let keys = app.get("/v1/keys").await;
    assert_eq!(keys.status(), StatusCode::OK);
    assert_eq!(keys.headers()["cache-control"], "public, max-age=300");
    let keys: Value = keys.json().await.expect("JSON");
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(1), "{keys}");
    let key = &keys["keys"][0];
    assert_eq!((&key["alg"], &key["use"]), (&json!("EdDSA"), &json!("sig")));
    let pem = key["public_key_pem"].as_str().expect("a PEM");
    assert_eq!(
        pem, app.keys.public_pem,
        "the key derived from the private one"
    );

    let verifier = JwtVerifier::from_public_pem(pem).expect("the published key loads");
    let claims = verifier
        .verify(session["token"].as_str().expect("a token"))
        .expect("the token verifies");
    assert_eq!(
        claims.sub.to_string(),
        registered["id"].as_str().expect("id")
    );
    assert_eq!(claims.email, "token@example.com");
    assert_eq!(claims.name, "Tok En");
    assert_eq!(
        i64::try_from(claims.exp).expect("exp fits"),
        expires_at.unix_timestamp()
    );
}

async fn an_unknown_email_and_a_wrong_password_get_the_same_answer(app: TestApp) {
    app.user("known@example.com").await;
    let wrong_password = app.login("known@example.com", "not the password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    let wrong_password: Value = wrong_password.json().await.expect("JSON");
    let unknown = app.login("unknown@example.com", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.expect("JSON");
    assert_eq!(wrong_password, unknown);
    assert_eq!(unknown["error"]["code"], "invalid_credentials");
    assert!(unknown["error"].get("field").is_none());
}

async fn the_profile_is_the_token_s_user_and_can_be_renamed(app: TestApp) {
    let ada = app.user("ada@example.com").await;
    let grace = app.user("grace@example.com").await;
    let me = app
        .authed(Method::GET, "/v1/users/me", &ada.token, None)
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["id"], ada.id.to_string());
    assert_eq!(me["email"], "ada@example.com");

    let renamed = app
        .authed(
            Method::PATCH,
            "/v1/users/me",
            &ada.token,
            Some(json!({"name": "  Ada, Countess of Lovelace "})),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.expect("JSON");
    assert_eq!(renamed["name"], "Ada, Countess of Lovelace");
    assert_eq!(renamed["created_at"], me["created_at"]);

    let unchanged = app
        .authed(Method::PATCH, "/v1/users/me", &ada.token, Some(json!({})))
        .await;
    assert_eq!(unchanged.status(), StatusCode::OK);
    assert_eq!(unchanged.json::<Value>().await.expect("JSON"), renamed);

    // Grace's token only ever reaches Grace.
    let grace_me: Value = app
        .authed(Method::GET, "/v1/users/me", &grace.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(grace_me["id"], grace.id.to_string());
    assert_eq!(grace_me["name"], "Test User");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(81)}), "name"),
        (json!({"name": 7}), "name"),
        (json!({"email": "new@example.com"}), "email"),
        (json!({"id": grace.id}), "id"),
    ] {
        let response = app
            .authed(Method::PATCH, "/v1/users/me", &ada.token, Some(body))
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    let after: Value = app
        .authed(Method::GET, "/v1/users/me", &ada.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(after, renamed, "refused patches changed nothing");
}

async fn a_password_change_needs_the_current_password(app: TestApp) {
    let user = app.user("changer@example.com").await;
    let change = |current: &str, new: &str| {
        app.authed(
            Method::PUT,
            "/v1/users/me/password",
            &user.token,
            Some(json!({"current_password": current, "new_password": new})),
        )
    };
    assert_error(
        change("wrong password", "a brand new password").await,
        StatusCode::FORBIDDEN,
        "invalid_credentials",
        Some("current_password"),
    )
    .await;
    assert_error(
        change(PASSWORD, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("new_password"),
    )
    .await;
    assert_error(
        change(PASSWORD, &"x".repeat(129)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("new_password"),
    )
    .await;
    assert_eq!(
        app.login("changer@example.com", PASSWORD).await.status(),
        StatusCode::OK,
        "refused changes kept the password"
    );

    let changed = change(PASSWORD, "a brand new password").await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.login("changer@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        None,
    )
    .await;
    assert_eq!(
        app.login("changer@example.com", "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
    let hash = app
        .stored_password_hash("changer@example.com")
        .await
        .expect("stored");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

async fn other_services_look_users_up_with_the_internal_credential(app: TestApp) {
    let user = app.user("lookup@example.com").await;
    let response = app.internal(&format!("/internal/users/{}", user.id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"id": user.id, "email": "lookup@example.com", "name": "Test User"})
    );

    assert_error(
        app.internal(&format!("/internal/users/{}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.internal("/internal/users/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get(&format!("/internal/users/{}", user.id)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    )
    .await;
    let with_a_user_token = app
        .authed(
            Method::GET,
            &format!("/internal/users/{}", user.id),
            &user.token,
            None,
        )
        .await;
    assert_error(
        with_a_user_token,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    )
    .await;
    let wrong = app
        .http
        .get(app.url(&format!("/internal/users/{}", user.id)))
        .header("x-internal-token", "guess")
        .send()
        .await
        .expect("answer");
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized", None).await;
}
