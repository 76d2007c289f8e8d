//! The invoice: a self-contained, printable HTML page of the order that
//! shows text from the order as text, never as markup.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, id_of, order_body, spawn};

on_both_backends!(
    the_invoice_is_a_printable_page_of_the_order,
    text_from_the_order_is_escaped_in_the_invoice,
);

async fn the_invoice_is_a_printable_page_of_the_order(app: TestApp) {
    let user = app.user();
    let mut body = order_body(user.id);
    body["lines"][0]["quantity"] = json!(60);
    body["lines"][0]["unit_price_cents"] = json!(1_234_567);
    let order = app.place_body(&body).await;
    let response = app
        .as_user(
            Method::GET,
            &format!("/v1/orders/{}/invoice", id_of(&order)),
            &user,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .starts_with("default-src 'none'")
    );
    let html = response.text().await.expect("text");

    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<style>") && html.contains("@media print"));
    assert!(html.contains("eShop"), "the shop's name");
    assert!(html.contains(order["number"].as_str().expect("a number")));
    let created = &order["created_at"].as_str().expect("a date")[..4];
    assert!(html.contains(created), "the year of the order's date");
    for text in [
        "Robot arm",
        "ROBOT-ARM-2",
        "Gear",
        "GEAR-7",
        // 60 × $12,345.67, 3 × $2.50, shipping $4.99.
        "$12,345.67",
        "$740,740.20",
        "$2.50",
        "$7.50",
        "$740,747.70",
        "$4.99",
        "$740,752.69",
        "Ada Lovelace",
        "1 Harbour Street",
        "Floor 3",
        "3011 AA Rotterdam",
        "NL",
    ] {
        assert!(html.contains(text), "{text} is missing from\n{html}");
    }
    for outside in ["<script", "<link", "src=", "href=", "url("] {
        assert!(!html.contains(outside), "{outside}: the page stands alone");
    }
}

async fn text_from_the_order_is_escaped_in_the_invoice(app: TestApp) {
    let user = app.user();
    let mut body = order_body(user.id);
    body["lines"][0]["name"] = json!(r#"<script>alert("robot")</script> & Sons"#);
    body["shipping"]["name"] = json!("Ada <b>'Countess'</b>");
    let order = app.place_body(&body).await;
    let html = app
        .as_user(
            Method::GET,
            &format!("/v1/orders/{}/invoice", id_of(&order)),
            &user,
        )
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("&lt;script&gt;alert(&quot;robot&quot;)&lt;/script&gt; &amp; Sons"),
        "{html}"
    );
    assert!(
        html.contains("Ada &lt;b&gt;&#39;Countess&#39;&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    // The order itself keeps the text as it was given.
    assert_eq!(order["lines"][0]["name"], body["lines"][0]["name"]);
}
