//! A user's addresses: added, listed, replaced and deleted by their owner
//! only, checked field by field, and never more than ten.

use eshop_test_support::on_both_backends;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, address, assert_error, send_retrying, spawn};

on_both_backends!(
    addresses_are_added_listed_replaced_and_deleted,
    a_user_keeps_at_most_ten_addresses_even_when_adding_concurrently,
    one_user_cannot_see_or_change_another_s_addresses,
    bad_addresses_are_refused_naming_the_field,
    unknown_and_malformed_address_ids_are_not_found,
);

const ADDRESSES: &str = "/v1/users/me/addresses";

async fn addresses_are_added_listed_replaced_and_deleted(app: TestApp) {
    let user = app.user("home@example.com").await;
    let added = app
        .authed(
            Method::POST,
            ADDRESSES,
            &user.token,
            Some(json!({
                "label": " Home ",
                "name": "Ada Lovelace",
                "line1": "12 St James's Square",
                "line2": "  ",
                "city": "London",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
                "phone": "+44 20 7946 0000",
            })),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let location = added.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let home: Value = added.json().await.expect("JSON");
    let id = home["id"].as_str().expect("an id");
    assert_eq!(location, format!("{ADDRESSES}/{id}"));
    assert_eq!(home["label"], "Home");
    assert_eq!(home["line2"], Value::Null, "a blank optional field is none");
    assert_eq!(home["phone"], "+44 20 7946 0000");
    assert_eq!(home["created_at"], home["updated_at"]);

    let work: Value = app
        .authed(Method::POST, ADDRESSES, &user.token, Some(address("Work")))
        .await
        .json()
        .await
        .expect("JSON");
    let listed = app.authed(Method::GET, ADDRESSES, &user.token, None).await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(
        listed.json::<Value>().await.expect("JSON"),
        json!([home, work]),
        "oldest first"
    );

    let mut moved = address("Home");
    moved["line1"] = json!("1 Infinite Loop");
    moved["city"] = json!("Cupertino");
    moved["postal_code"] = json!("95014");
    moved["country"] = json!("US");
    let replaced = app
        .authed(Method::PUT, &location, &user.token, Some(moved))
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.expect("JSON");
    assert_eq!(replaced["id"], home["id"]);
    assert_eq!(
        (&replaced["city"], &replaced["country"]),
        (&json!("Cupertino"), &json!("US"))
    );
    assert_eq!(replaced["phone"], Value::Null, "a replacement replaces all");
    assert_eq!(replaced["created_at"], home["created_at"]);

    let deleted = app
        .authed(Method::DELETE, &location, &user.token, None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed: Value = app
        .authed(Method::GET, ADDRESSES, &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed, json!([work]));
    assert_error(
        app.authed(Method::DELETE, &location, &user.token, None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
}

async fn a_user_keeps_at_most_ten_addresses_even_when_adding_concurrently(app: TestApp) {
    let user = app.user("collector@example.com").await;
    let responses = join_all((0..15).map(|n| {
        send_retrying(
            app.http
                .post(app.url(ADDRESSES))
                .bearer_auth(&user.token)
                .json(&address(&format!("Place {n}"))),
        )
    }))
    .await;
    let mut added = 0;
    for response in responses {
        if response.status() == StatusCode::CREATED {
            added += 1;
        } else {
            assert_error(response, StatusCode::CONFLICT, "too_many_addresses", None).await;
        }
    }
    assert_eq!(added, 10);
    let listed: Value = app
        .authed(Method::GET, ADDRESSES, &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 10);

    let first = listed[0]["id"].as_str().expect("an id");
    let deleted = app
        .authed(
            Method::DELETE,
            &format!("{ADDRESSES}/{first}"),
            &user.token,
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let room_again = app
        .authed(Method::POST, ADDRESSES, &user.token, Some(address("Spare")))
        .await;
    assert_eq!(room_again.status(), StatusCode::CREATED);
}

async fn one_user_cannot_see_or_change_another_s_addresses(app: TestApp) {
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let home: Value = app
        .authed(Method::POST, ADDRESSES, &ada.token, Some(address("Home")))
        .await
        .json()
        .await
        .expect("JSON");
    let path = format!("{ADDRESSES}/{}", home["id"].as_str().expect("an id"));

    let eves: Value = app
        .authed(Method::GET, ADDRESSES, &eve.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(eves, json!([]));
    let mut hijack = address("Mine now");
    hijack["line1"] = json!("Eve's hideout");
    assert_error(
        app.authed(Method::PUT, &path, &eve.token, Some(hijack))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.authed(Method::DELETE, &path, &eve.token, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;

    let adas: Value = app
        .authed(Method::GET, ADDRESSES, &ada.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(adas, json!([home]), "Ada's address is untouched");
}

async fn bad_addresses_are_refused_naming_the_field(app: TestApp) {
    let user = app.user("careless@example.com").await;
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for (field, value) in [
        ("label", json!("l".repeat(41))),
        ("name", json!("")),
        ("name", json!("two\nlines")),
        ("line1", json!("x".repeat(121))),
        ("line2", json!("x".repeat(121))),
        ("city", json!("   ")),
        ("postal_code", json!("12345; DROP")),
        ("postal_code", json!("1".repeat(17))),
        ("country", json!("gb")),
        ("country", json!("XX")),
        ("country", json!("GBR")),
        ("country", json!(49)),
        ("phone", json!("call me maybe")),
        ("phone", json!("123")),
        ("colour", json!("red")),
    ] {
        let mut body = address("Home");
        body[field] = value;
        cases.push((body, field));
    }
    for field in ["name", "line1", "city", "postal_code", "country"] {
        let mut body = address("Home");
        body.as_object_mut().expect("an object").remove(field);
        cases.push((body, field));
    }
    for (body, field) in cases {
        let response = app
            .authed(Method::POST, ADDRESSES, &user.token, Some(body.clone()))
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        )
        .await;
    }
    let listed: Value = app
        .authed(Method::GET, ADDRESSES, &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed, json!([]), "nothing was written");

    let kept: Value = app
        .authed(Method::POST, ADDRESSES, &user.token, Some(address("Home")))
        .await
        .json()
        .await
        .expect("JSON");
    let path = format!("{ADDRESSES}/{}", kept["id"].as_str().expect("an id"));
    let mut bad = address("Home");
    bad["country"] = json!("Germany");
    assert_error(
        app.authed(Method::PUT, &path, &user.token, Some(bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("country"),
    )
    .await;
    let listed: Value = app
        .authed(Method::GET, ADDRESSES, &user.token, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        listed,
        json!([kept]),
        "a refused replacement changed nothing"
    );
}

async fn unknown_and_malformed_address_ids_are_not_found(app: TestApp) {
    let user = app.user("lost@example.com").await;
    for id in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let path = format!("{ADDRESSES}/{id}");
        assert_error(
            app.authed(Method::PUT, &path, &user.token, Some(address("Home")))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
        assert_error(
            app.authed(Method::DELETE, &path, &user.token, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
}
