//! Orders made by checkouts, and what their customers see of them: one
//! order per checkout, each user's history newest first, and nobody else's.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    ITEMS_TOTAL, TOTAL, TestApp, assert_error, history_of, id_of, order_body, spawn,
};

on_both_backends!(
    a_checkout_creates_a_paid_order_with_computed_totals,
    a_repeated_checkout_gets_the_order_it_made,
    concurrent_repeats_of_a_checkout_make_one_order,
    a_checkout_id_reused_with_other_contents_is_refused,
    users_see_their_own_history_newest_first_in_pages,
    another_users_order_is_not_found,
);

async fn a_checkout_creates_a_paid_order_with_computed_totals(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let order = app.place_body(&body).await;

    assert_eq!(order["status"], "paid");
    assert_eq!(order["user_id"], user.id.to_string());
    assert_eq!(order["checkout_id"], body["checkout_id"]);
    assert_eq!(order["items_total_cents"], ITEMS_TOTAL);
    assert_eq!(order["shipping_cost_cents"], 499);
    assert_eq!(order["total_cents"], TOTAL);
    assert_eq!(order["lines"][0]["total_cents"], 2 * 1999);
    assert_eq!(order["lines"][1]["name"], "Gear");
    assert_eq!(order["shipping"], body["shipping"]);
    assert_eq!(order["payment"], body["payment"]);
    assert_eq!(order["reservation_id"], body["reservation_id"]);
    assert_eq!(order["tracking_number"], Value::Null);
    let number = order["number"].as_str().expect("a number");
    assert!(
        number.starts_with("ORD-") && number[4..].bytes().all(|b| b.is_ascii_digit()),
        "{number}"
    );
    assert_eq!(history_of(&order), ["pending", "paid"]);
    assert_eq!(
        order["history"][0]["at"], order["history"][1]["at"],
        "created and paid in the same instant"
    );
    assert_eq!(order["history"][0]["at"], order["created_at"]);

    // The customer and the saga see the same order.
    assert_eq!(app.order(&user, id_of(&order)).await, order);
    let checkout = body["checkout_id"].as_str().expect("an id");
    let by_checkout = app
        .internal(
            Method::GET,
            &format!("/internal/orders/by-checkout/{checkout}"),
            None,
        )
        .await;
    assert_eq!(by_checkout.status(), StatusCode::OK);
    assert_eq!(by_checkout.json::<Value>().await.expect("JSON"), order);
}

async fn a_repeated_checkout_gets_the_order_it_made(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let first = app.place_body(&body).await;
    let again = app.create(&body).await;
    assert_eq!(again.status(), StatusCode::OK, "a repeat is not a creation");
    assert_eq!(again.json::<Value>().await.expect("JSON"), first);

    let list: Value = app
        .as_user(Method::GET, "/v1/orders", &user)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["total"], 1, "{list}");
    let summary = app.summary().await;
    assert_eq!(summary["orders_by_status"]["paid"], 1);
    assert_eq!(summary["duplicate_checkouts"], 0);
}

async fn concurrent_repeats_of_a_checkout_make_one_order(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (app, body) = (&app, body.clone());
            async move {
                let response = app.create(&body).await;
                let status = response.status();
                (status, response.json::<Value>().await.expect("JSON"))
            }
        })
        .collect();
    let answers = futures::future::join_all(attempts).await;
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let repeated = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!((created, repeated), (1, 7), "{answers:?}");
    let ids: Vec<Uuid> = answers.iter().map(|(_, order)| id_of(order)).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one order: {ids:?}");
    assert_eq!(app.summary().await["orders_by_status"]["paid"], 1);
}

async fn a_checkout_id_reused_with_other_contents_is_refused(app: TestApp) {
    let user = app.user();
    let body = order_body(user.id);
    let first = app.place_body(&body).await;

    let mut other_user = body.clone();
    other_user["user_id"] = json!(Uuid::new_v4());
    let mut other_lines = body.clone();
    other_lines["lines"][0]["quantity"] = json!(1);
    for reused in [other_user, other_lines] {
        let message = assert_error(
            app.create(&reused).await,
            StatusCode::CONFLICT,
            "checkout_taken",
            None,
        )
        .await;
        assert!(
            message.contains(first["number"].as_str().expect("a number")),
            "{message}"
        );
    }
    assert_eq!(app.order(&user, id_of(&first)).await, first);
}

async fn users_see_their_own_history_newest_first_in_pages(app: TestApp) {
    let (ada, bob) = (app.user(), app.user());
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(app.place(&ada).await);
    }
    let bobs = app.place(&bob).await;

    let list = |query: &'static str| {
        let ada = &ada;
        let app = &app;
        async move {
            let response = app
                .as_user(Method::GET, &format!("/v1/orders{query}"), ada)
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.expect("JSON")
        }
    };
    let all = list("").await;
    assert_eq!(
        (&all["total"], &all["page"], &all["per_page"]),
        (&json!(3), &json!(1), &json!(20))
    );
    let numbers: Vec<&Value> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| &item["number"])
        .collect();
    let newest_first: Vec<&Value> = placed.iter().rev().map(|order| &order["number"]).collect();
    assert_eq!(numbers, newest_first);
    let newest = &all["items"][0];
    assert_eq!(newest["id"], placed[2]["id"]);
    assert_eq!(newest["status"], "paid");
    assert_eq!(newest["total_cents"], TOTAL);
    assert_eq!(newest["item_count"], 5, "2 robot arms and 3 gears");
    assert_eq!(newest["created_at"], placed[2]["created_at"]);

    let first_page = list("?per_page=2").await;
    let second_page = list("?per_page=2&page=2").await;
    let ids = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(&first_page),
        [placed[2]["id"].clone(), placed[1]["id"].clone()]
    );
    assert_eq!(ids(&second_page), [placed[0]["id"].clone()]);
    assert_eq!(second_page["total"], 3);
    assert!(ids(&list("?page=3&per_page=2").await).is_empty());

    let bobs_list: Value = app
        .as_user(Method::GET, "/v1/orders", &bob)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(bobs_list["total"], 1);
    assert_eq!(ids(&bobs_list), [bobs["id"].clone()]);

    let newcomer = app.user();
    let empty: Value = app
        .as_user(Method::GET, "/v1/orders", &newcomer)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        empty,
        json!({"items": [], "page": 1, "per_page": 20, "total": 0})
    );
}

async fn another_users_order_is_not_found(app: TestApp) {
    let (ada, eve) = (app.user(), app.user());
    let order = app.place(&ada).await;
    let id = id_of(&order);
    for (method, path) in [
        (Method::GET, format!("/v1/orders/{id}")),
        (Method::GET, format!("/v1/orders/{id}/invoice")),
        (Method::POST, format!("/v1/orders/{id}/cancel")),
        (Method::POST, format!("/v1/orders/{id}/return")),
    ] {
        assert_error(
            app.as_user(method.clone(), &path, &eve).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
    assert_eq!(
        app.order(&ada, id).await,
        order,
        "Eve's attempts changed nothing"
    );
}
