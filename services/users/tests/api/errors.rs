//! Bad input gets a 4xx in the shared error shape, naming the field; never
//! a 5xx, and nothing is written. Bad, foreign and expired tokens are
//! refused on every user endpoint.

use eshop_test_support::{TestKeys, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, address, assert_error, spawn};

on_both_backends!(
    user_endpoints_refuse_missing_bad_foreign_and_expired_tokens,
    a_valid_token_for_an_account_that_does_not_exist_is_refused,
    registrations_with_missing_mistyped_or_invalid_fields_are_named,
    logins_with_missing_or_invalid_fields_are_named,
    malformed_oversize_and_non_json_bodies_are_refused,
    unknown_endpoints_and_methods_answer_in_the_error_shape,
);

/// Every endpoint that takes a user's token, with a body it would accept.
fn user_endpoints() -> Vec<(Method, String, Option<Value>)> {
    let address_path = format!("/v1/users/me/addresses/{}", Uuid::new_v4());
    vec![
        (Method::GET, "/v1/users/me".to_owned(), None),
        (
            Method::PATCH,
            "/v1/users/me".to_owned(),
            Some(json!({"name": "New"})),
        ),
        (
            Method::PUT,
            "/v1/users/me/password".to_owned(),
            Some(json!({"current_password": PASSWORD, "new_password": "something else"})),
        ),
        (Method::GET, "/v1/users/me/addresses".to_owned(), None),
        (
            Method::POST,
            "/v1/users/me/addresses".to_owned(),
            Some(address("Home")),
        ),
        (Method::PUT, address_path.clone(), Some(address("Home"))),
        (Method::DELETE, address_path, None),
    ]
}

async fn user_endpoints_refuse_missing_bad_foreign_and_expired_tokens(app: TestApp) {
    let user = app.user("guarded@example.com").await;
    let foreign = TestKeys::generate().token_for(user.id);
    let expired = app.keys.expired_token_for(user.id);
    for (method, path, body) in user_endpoints() {
        let mut anonymous = app.http.request(method.clone(), app.url(&path));
        if let Some(body) = &body {
            anonymous = anonymous.json(body);
        }
        let anonymous = anonymous.send().await.expect("answer");
        assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized", None).await;

        let basic = app
            .http
            .request(method.clone(), app.url(&path))
            .header("authorization", "Basic YWRhOnNlY3JldA==")
            .send()
            .await
            .expect("answer");
        assert_error(basic, StatusCode::UNAUTHORIZED, "invalid_token", None).await;

        for (token, code) in [
            ("garbage", "invalid_token"),
            ("a.b.c", "invalid_token"),
            (foreign.as_str(), "invalid_token"),
            (expired.as_str(), "token_expired"),
        ] {
            let response = app.authed(method.clone(), &path, token, body.clone()).await;
            assert_error(response, StatusCode::UNAUTHORIZED, code, None).await;
        }
    }
    // Nothing was changed by the refused calls.
    let me: Value = app
        .authed(Method::GET, "/v1/users/me", &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["name"], "Test User");
    assert_eq!(
        app.login("guarded@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    let addresses: Value = app
        .authed(Method::GET, "/v1/users/me/addresses", &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(addresses, json!([]));
}

async fn a_valid_token_for_an_account_that_does_not_exist_is_refused(app: TestApp) {
    let ghost = app.keys.token_for(Uuid::new_v4());
    for (method, path, body) in [
        (Method::GET, "/v1/users/me", None),
        (
            Method::PATCH,
            "/v1/users/me",
            Some(json!({"name": "Ghost"})),
        ),
        (
            Method::PUT,
            "/v1/users/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "something else"})),
        ),
        (
            Method::POST,
            "/v1/users/me/addresses",
            Some(address("Nowhere")),
        ),
    ] {
        let response = app.authed(method, path, &ghost, body).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_token", None).await;
    }
    let listed = app
        .authed(Method::GET, "/v1/users/me/addresses", &ghost, None)
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.json::<Value>().await.expect("JSON"), json!([]));
}

async fn registrations_with_missing_mistyped_or_invalid_fields_are_named(app: TestApp) {
    let valid = json!({"email": "new@example.com", "password": PASSWORD, "name": "New User"});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for field in ["email", "password", "name"] {
        let mut body = valid.clone();
        body.as_object_mut().expect("an object").remove(field);
        cases.push((body, field));
    }
    for (field, value) in [
        ("email", json!("not an email")),
        ("email", json!("new@example")),
        ("email", json!(format!("{}@example.com", "a".repeat(250)))),
        ("email", json!(42)),
        ("email", Value::Null),
        ("password", json!("1234567")),
        ("password", json!("p".repeat(129))),
        ("password", json!(12_345_678)),
        ("name", json!("   ")),
        ("name", json!("n".repeat(81))),
        ("name", json!("tab\there")),
        ("name", json!(["New"])),
        ("admin", json!(true)),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body, field));
    }
    for (body, field) in cases {
        assert_error(
            app.post("/v1/users", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(
        app.stored_password_hash("new@example.com").await,
        None,
        "nothing was written"
    );
    let accepted = app.post("/v1/users", valid).await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
}

async fn logins_with_missing_or_invalid_fields_are_named(app: TestApp) {
    for (body, field) in [
        (json!({"password": PASSWORD}), "email"),
        (json!({"email": "a@example.com"}), "password"),
        (
            json!({"email": "not an email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": ""}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "p".repeat(129)}),
            "password",
        ),
        (json!({"email": "a@example.com", "password": 1}), "password"),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "remember": true}),
            "remember",
        ),
    ] {
        assert_error(
            app.post("/v1/sessions", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    assert_eq!(
        app.failure_records().await,
        0,
        "refused bodies are not login attempts"
    );
}

async fn malformed_oversize_and_non_json_bodies_are_refused(app: TestApp) {
    let user = app.user("bodies@example.com").await;
    let send = |path: &str, body: String, content_type: &'static str| {
        app.http
            .post(app.url(path))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for path in ["/v1/users", "/v1/sessions", "/v1/users/me/addresses"] {
        let malformed = send(path, "{\"na".to_owned(), "application/json")
            .await
            .expect("answer");
        assert_error(malformed, StatusCode::BAD_REQUEST, "malformed_json", None).await;
        // Users takes at most 16 KiB, well below the server's 64 KiB.
        let oversize = send(
            path,
            format!("{{\"name\": \"{}\"}}", "x".repeat(17 * 1024)),
            "application/json",
        )
        .await
        .expect("answer");
        assert_error(
            oversize,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        )
        .await;
        let form = send(
            path,
            "email=x".to_owned(),
            "application/x-www-form-urlencoded",
        )
        .await
        .expect("answer");
        assert_error(
            form,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        )
        .await;
    }
    let addresses: Value = app
        .authed(Method::GET, "/v1/users/me/addresses", &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(addresses, json!([]));
}

async fn unknown_endpoints_and_methods_answer_in_the_error_shape(app: TestApp) {
    assert_error(
        app.get("/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get(&format!("/v1/users/{}", Uuid::new_v4())).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    let wrong_method = app
        .http
        .delete(app.url("/v1/users/me"))
        .send()
        .await
        .expect("answer");
    assert_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
    let list_users = app.get("/v1/users").await;
    assert_error(
        list_users,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    )
    .await;
}
