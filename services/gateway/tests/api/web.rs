//! The pages as a browser without JavaScript gets them: rendered HTML,
//! forms that post and redirect, cookies, CSRF refusals, friendly errors.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::{cookies, set_cookies, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_render_with_the_shops_own_assets() {
    let shop = spawn().await;
    let response = shop.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let home = response.text().await.expect("HTML");
    assert!(home.contains("Shop by category") && home.contains("Kits and Parts"));
    assert!(
        !home.contains("http://") && !home.contains("https://"),
        "nothing from elsewhere"
    );
    let css = home
        .split("href=\"")
        .find_map(|rest| rest.split('"').next().filter(|path| path.ends_with(".css")))
        .expect("a stylesheet")
        .to_owned();
    let asset = shop.get(&css).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(
        asset.headers()[header::CACHE_CONTROL]
            .to_str()
            .expect("text")
            .contains("immutable")
    );

    let (status, category) = shop.page("/categories/drones?page=1", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(category.contains("<h1 id=\"listing-heading\">Drones</h1>"));
    let (_, search) = shop.page("/search?q=rover", "").await;
    assert!(search.contains("Rover One"), "{search}");
    let (_, product) = shop.page("/products/ROBOT-ARM-2", "").await;
    assert!(product.contains("Desk Arm Two") && product.contains("€389.00"));
    assert!(product.contains("Log in</a> to rate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_fills_a_cart_and_keeps_it_when_registering() {
    let shop = spawn().await;
    let first = shop.get("/").await;
    let visitor = cookies(&first);
    assert!(visitor.starts_with("eshop_visitor="), "{visitor}");
    let added = shop
        .post_form(
            "/cart/items",
            &visitor,
            &[("sku", "ROBOT-ARM-2"), ("quantity", "2")],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, cart) = shop.page("/cart", &visitor).await;
    assert!(
        cart.contains("Desk Arm Two") && cart.contains("€778.00"),
        "{cart}"
    );

    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = shop
        .post_form(
            "/register",
            &visitor,
            &[
                ("name", "Grace"),
                ("email", &email),
                ("password", "correct horse battery"),
                ("next", "/cart"),
            ],
        )
        .await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    assert_eq!(registered.headers()[header::LOCATION], "/cart");
    let session = cookies(&registered);
    assert!(session.contains("eshop_session="), "{session}");
    let (_, cart) = shop.page("/cart", &session).await;
    assert!(cart.contains("Grace"), "the header names the user");
    assert!(cart.contains("€778.00"), "the cart came along: {cart}");

    let out = shop.post_form("/logout", &session, &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|cookie| cookie.starts_with("eshop_session=;") && cookie.contains("Max-Age=0"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_errors_sit_next_to_their_field() {
    let shop = spawn().await;
    let response = shop
        .post_form(
            "/register",
            "",
            &[
                ("name", "Grace"),
                ("email", "not-an-email"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("HTML");
    assert!(page.contains("id=\"email-error\""), "{page}");
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"email-error\""));

    let login = shop
        .post_form(
            "/login",
            "",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
    let page = login.text().await.expect("HTML");
    assert!(page.contains("That email and password do not match an account."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_posted_from_another_site_are_refused() {
    let shop = spawn().await;
    let refused = shop
        .http
        .post(shop.url("/cart/items"))
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("sku=ROBOT-ARM-2&quantity=1")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.expect("HTML").contains("another site"));
    let no_origin = shop
        .http
        .post(shop.url("/logout"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    let api = shop
        .http
        .post(shop.url("/api/cart/items"))
        .header(header::ORIGIN, "http://evil.example")
        .json(&serde_json::json!({"sku": "ROBOT-ARM-2", "quantity": 1}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_friendly_pages_and_api_errors_keep_their_shape() {
    let shop = spawn().await;
    for path in [
        "/no-such-page",
        "/products/NO-SUCH-THING",
        "/categories/nothing",
    ] {
        let (status, page) = shop.page(path, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("find that page"), "{path}: {page}");
    }
    let api = shop.get("/api/no-such-endpoint").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert!(
        api.text()
            .await
            .expect("JSON")
            .contains("\"code\":\"not_found\"")
    );
    let orders = shop.get("/orders").await;
    assert_eq!(orders.status(), StatusCode::SEE_OTHER);
    assert_eq!(orders.headers()[header::LOCATION], "/login?next=%2Forders");
}

/// What the customer saw is what they pay: a payment form whose total is no
/// longer the total (prices or shipping changed meanwhile) buys nothing,
/// and the page shows the new total to confirm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_total_is_shown_again_instead_of_charged() {
    let shop = spawn().await;
    let visitor = cookies(&shop.get("/").await);
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = shop
        .post_form(
            "/register",
            &visitor,
            &[
                ("name", "Grace"),
                ("email", &email),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let session = cookies(&registered);
    shop.post_form(
        "/cart/items",
        &session,
        &[("sku", "SENSOR-IMU-3"), ("quantity", "1")],
    )
    .await;
    let address = [
        ("name", "Grace"),
        ("line1", "1 Rue de Rivoli"),
        ("postal_code", "75001"),
        ("city", "Paris (FR)"),
    ];
    let quoted = shop.post_form("/checkout/quote", &session, &address).await;
    let page = quoted.text().await.expect("a page");
    let shown = page
        .split("name=\"expected_total_cents\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the total it shows")
        .to_owned();
    let city_id = page
        .split("name=\"city_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the quoted city")
        .to_owned();
    let stale = (shown.parse::<i64>().expect("cents") - 100).to_string();
    let mut form = address.to_vec();
    form.extend([
        ("city_id", city_id.as_str()),
        ("key", "a-stale-total"),
        ("method", "wallet"),
        ("expected_total_cents", stale.as_str()),
    ]);
    let refused = shop.post_form("/checkout", &session, &form).await;
    assert_eq!(refused.status(), StatusCode::OK, "the form, again");
    let page = refused.text().await.expect("a page");
    assert!(
        page.contains("Prices or shipping changed since you looked, so nothing was charged"),
        "{page}"
    );
    assert!(
        page.contains(&format!("name=\"expected_total_cents\" value=\"{shown}\"")),
        "the new total to confirm: {page}"
    );
}

/// A payment slower than the gateway waits is not "nothing charged": the
/// customer is sent to a page that follows the checkout by its key, paying
/// again from the form (the same key) is the same payment, and the page
/// ends at the order. Exactly one order and one charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_checkout_is_followed_to_its_end_and_charged_once() {
    let shop = crate::helpers::spawn_with_slow_payments(Duration::from_millis(1500), |settings| {
        settings.checkout_timeout = Duration::from_millis(500);
    })
    .await;
    let visitor = cookies(&shop.get("/").await);
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = shop
        .post_form(
            "/register",
            &visitor,
            &[
                ("name", "Grace"),
                ("email", &email),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let session = cookies(&registered);
    let topped_up = shop
        .http
        .post(shop.url("/api/wallet/top-ups"))
        .header(header::COOKIE, &session)
        .header(header::ORIGIN, &shop.gateway.address)
        .header("idempotency-key", "top-up-1")
        .json(&serde_json::json!({"amount_cents": 100_000, "card_number": "4242 4242 4242 4242"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(topped_up.status(), StatusCode::OK);
    shop.post_form(
        "/cart/items",
        &session,
        &[("sku", "SENSOR-IMU-3"), ("quantity", "1")],
    )
    .await;
    let address = [
        ("name", "Grace"),
        ("line1", "1 Rue de Rivoli"),
        ("postal_code", "75001"),
        ("city", "Paris (FR)"),
    ];
    let page = shop
        .post_form("/checkout/quote", &session, &address)
        .await
        .text()
        .await
        .expect("a page");
    let hidden = |name: &str| {
        page.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("the form carries {name}"))
            .to_owned()
    };
    let (key, total, city_id) = (
        hidden("key"),
        hidden("expected_total_cents"),
        hidden("city_id"),
    );
    let mut form = address.to_vec();
    form.extend([
        ("city_id", city_id.as_str()),
        ("key", key.as_str()),
        ("method", "wallet"),
        ("expected_total_cents", total.as_str()),
    ]);

    let confirming = format!("/checkout/confirming?key={key}");
    for attempt in ["first", "again"] {
        let paid = shop.post_form("/checkout", &session, &form).await;
        assert_eq!(paid.status(), StatusCode::SEE_OTHER, "{attempt}");
        assert_eq!(
            paid.headers()[header::LOCATION],
            confirming.as_str(),
            "{attempt}"
        );
    }
    // The page a customer refreshes: "confirming" (or the running
    // checkout's status) while payments works, then the order.
    let deadline = Instant::now() + Duration::from_secs(30);
    let order = loop {
        let page = shop
            .http
            .get(shop.url(&confirming))
            .header(header::COOKIE, &session)
            .send()
            .await
            .expect("the gateway answers");
        let location = page
            .headers()
            .get(header::LOCATION)
            .map(|location| location.to_str().expect("ASCII").to_owned());
        match (page.status(), location) {
            (StatusCode::SEE_OTHER, Some(order)) if order.starts_with("/orders/") => break order,
            (StatusCode::SEE_OTHER, Some(status)) => {
                assert!(status.starts_with("/checkout/status/"), "{status}");
            }
            (status, _) => assert_eq!(status, StatusCode::OK, "the confirming page"),
        }
        assert!(Instant::now() < deadline, "the checkout never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(order.ends_with("?placed=1"), "{order}");

    let get = |path: &'static str| {
        shop.http
            .get(shop.url(path))
            .header(header::COOKIE, &session)
            .send()
    };
    let orders: Value = get("/api/orders")
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let wallet: Value = get("/api/wallet")
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let total: i64 = total.parse().expect("cents");
    eprintln!(
        "slow checkout: {} order(s); wallet {} cents after a top-up of 100000 and a total of {total}",
        orders["items"].as_array().map_or(0, Vec::len),
        wallet["balance_cents"]
    );
    assert_eq!(
        orders["items"].as_array().expect("orders").len(),
        1,
        "{orders}"
    );
    assert_eq!(
        wallet["balance_cents"],
        100_000 - total,
        "charged once: {wallet}"
    );
}
