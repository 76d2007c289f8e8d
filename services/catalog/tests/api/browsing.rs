//! Browsing: categories, paging, sorting, filtering, search, product pages
//! and images, on the demo catalog.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn};

on_both_backends!(
    the_demo_catalog_has_robots_and_ai_among_its_categories,
    products_are_paged_and_sorted,
    products_are_filtered_by_category,
    search_finds_products_by_words_in_names_and_descriptions,
    a_product_page_and_its_image,
    loading_the_demo_catalog_twice_adds_nothing,
);

fn skus(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["sku"].as_str().expect("sku").to_owned())
        .collect()
}

async fn the_demo_catalog_has_robots_and_ai_among_its_categories(app: TestApp) {
    assert_eq!(app.load_demo_data().await, 50);
    let categories = app.get_json("/v1/categories").await;
    let categories = categories.as_array().expect("a list");
    assert!(categories.len() >= 4);
    let count = |slug: &str| {
        categories
            .iter()
            .find(|category| category["slug"] == slug)
            .map(|category| category["product_count"].as_i64().expect("a count"))
    };
    assert_eq!(count("robots"), Some(10));
    assert_eq!(count("ai"), Some(10));
    let total: i64 = categories
        .iter()
        .map(|category| category["product_count"].as_i64().expect("a count"))
        .sum();
    assert_eq!(total, 50);
}

async fn products_are_paged_and_sorted(app: TestApp) {
    app.load_demo_data().await;
    let first = app.get_json("/v1/products?sort=price&per_page=10").await;
    assert_eq!(first["total"], 50);
    assert_eq!(first["items"].as_array().expect("items").len(), 10);
    let prices: Vec<i64> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["price_cents"].as_i64().expect("price"))
        .collect();
    assert!(
        prices.windows(2).all(|pair| pair[0] <= pair[1]),
        "{prices:?}"
    );

    let second = app
        .get_json("/v1/products?sort=price&per_page=10&page=2")
        .await;
    let (first_skus, second_skus) = (skus(&first), skus(&second));
    assert!(
        first_skus.iter().all(|sku| !second_skus.contains(sku)),
        "pages overlap"
    );

    let last = app.get_json("/v1/products?per_page=20&page=3").await;
    assert_eq!(last["items"].as_array().expect("items").len(), 10);
    let beyond = app.get_json("/v1/products?page=9").await;
    assert!(beyond["items"].as_array().expect("items").is_empty());

    let dearest = app
        .get_json("/v1/products?sort=price_desc&per_page=1")
        .await;
    assert_eq!(dearest["items"][0]["sku"], "DRONE-MAPPER-2");
    let by_name = app.get_json("/v1/products?per_page=50").await;
    let names: Vec<&str> = by_name["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["name"].as_str().expect("name"))
        .collect();
    assert!(names.windows(2).all(|pair| pair[0] <= pair[1]), "{names:?}");
}

async fn products_are_filtered_by_category(app: TestApp) {
    app.load_demo_data().await;
    let drones = app
        .get_json("/v1/products?category=drones&per_page=100")
        .await;
    assert_eq!(drones["total"], 10);
    assert!(
        drones["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|item| item["category"] == "drones")
    );
    let none = app.get_json("/v1/products?category=no-such-thing").await;
    assert_eq!(none["total"], 0);
}

async fn search_finds_products_by_words_in_names_and_descriptions(app: TestApp) {
    app.load_demo_data().await;
    // "quadcopter" appears only in descriptions.
    let found = app.get_json("/v1/products?q=quadcopter").await;
    let found_skus = skus(&found);
    assert!(
        found_skus.contains(&"DRONE-MINI-1".to_owned()),
        "{found_skus:?}"
    );
    assert!(
        found_skus.contains(&"DRONE-RACER-3".to_owned()),
        "{found_skus:?}"
    );
    assert!(
        found_skus.iter().all(|sku| sku.starts_with("DRONE-")),
        "{found_skus:?}"
    );

    // Several words narrow the search; plurals match singulars.
    let found = skus(&app.get_json("/v1/products?q=thermal%20cameras").await);
    assert_eq!(
        found.first().map(String::as_str),
        Some("SENSOR-THERMAL-6"),
        "{found:?}"
    );

    let filtered = app.get_json("/v1/products?q=robot&category=kits").await;
    assert!(
        filtered["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|item| item["category"] == "kits")
    );
    assert!(filtered["total"].as_i64().expect("total") >= 1);

    let nothing = app.get_json("/v1/products?q=xylophone").await;
    assert_eq!(nothing["total"], 0);
    let punctuation = app.get_json("/v1/products?q=%22*()").await;
    assert_eq!(punctuation["total"], 0);
}

async fn a_product_page_and_its_image(app: TestApp) {
    app.load_demo_data().await;
    let product = app.get_json("/v1/products/ROBOT-ARM-2").await;
    assert_eq!(product["name"], "Desk Arm Two");
    assert_eq!(product["price_cents"], 38_900);
    assert_eq!(product["category"], "robots");
    assert_eq!(product["stock"], 12);
    assert_eq!(product["weight_grams"], 3100);
    let image_url = product["image_url"].as_str().expect("an image URL");
    assert_eq!(image_url, "/v1/products/ROBOT-ARM-2/image.svg");

    let image = app.get(image_url).await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    let svg = image.text().await.expect("text");
    assert!(svg.starts_with("<svg") && svg.contains("Desk Arm Two"));
}

async fn loading_the_demo_catalog_twice_adds_nothing(app: TestApp) {
    assert_eq!(app.load_demo_data().await, 50);
    assert_eq!(app.load_demo_data().await, 0);
    assert_eq!(app.get_json("/v1/products").await["total"], 50);
}
