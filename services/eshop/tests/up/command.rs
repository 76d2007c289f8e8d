//! What `eshop up` promises beyond its pages.

use std::time::Duration;

use eshop_test_support::TestDatabase;
use serde_json::{Value, json};

use crate::process::{EshopUp, free_port, spawn};

/// How long a request to the shop may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// `GET path` as JSON, asserting 200.
async fn get_json(shop: &EshopUp, path: &str, token: Option<&str>) -> Value {
    let mut request = http().get(format!("{}{path}", shop.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the shop answers");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("a JSON body")
}

/// Logs in through the public API: the bearer token.
async fn log_in(shop: &EshopUp, email: &str) -> String {
    let response = http()
        .post(format!("{}/api/sessions", shop.url()))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("the shop answers");
    assert_eq!(response.status(), 200, "logging in as {email}");
    let session: Value = response.json().await.expect("a JSON session");
    session["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn a_fresh_directory_gets_the_demo_shop_and_keeps_its_data_across_restarts() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let shop = EshopUp::start(data.path(), &[]).await;
    let home = http()
        .get(shop.url())
        .send()
        .await
        .expect("the storefront answers");
    assert_eq!(home.status(), 200);
    let home = home.text().await.expect("a page");
    assert!(home.contains("Parts and robots for makers"), "{home}");
    eprintln!(
        "eshop up: first page served {:.0} ms after the command started",
        shop.started.elapsed().as_secs_f64() * 1000.0
    );
    let products = get_json(&shop, "/api/products", None).await["products"]["total"].clone();
    assert!(
        products.as_u64().is_some_and(|total| total > 0),
        "{products}"
    );

    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = http()
        .post(format!("{}/api/users", shop.url()))
        .json(&json!({"name": "Ada", "email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("the shop answers");
    assert_eq!(registered.status(), 201);
    let token = log_in(&shop, &email).await;

    let (status, said) = shop.interrupt().await;
    assert!(status.success(), "Ctrl-C ends it cleanly: {status}\n{said}");
    assert!(said.contains("eShop stopped."), "{said}");

    let again = EshopUp::start(data.path(), &[]).await;
    assert_eq!(
        get_json(&again, "/api/products", None).await["products"]["total"],
        products,
        "the demo catalog is loaded once"
    );
    let me = get_json(&again, "/api/me", Some(&token)).await;
    assert_eq!(
        me["email"], email,
        "a token from before the restart still works"
    );
    log_in(&again, &email).await;
    let (status, said) = again.interrupt().await;
    assert!(status.success(), "{status}\n{said}");
}

#[tokio::test]
async fn given_postgres_and_redis_it_runs_on_them() {
    let database = TestDatabase::create().await;
    let redis = std::env::var("ESHOP_TEST_REDIS_URL").expect(
        "ESHOP_TEST_REDIS_URL is set: run the tests through tests/run, or `tests/stores up`",
    );
    let data = tempfile::tempdir().expect("a temporary directory");
    let shop = EshopUp::start(
        data.path(),
        &["--database-url", &database.url(), "--redis-url", &redis],
    )
    .await;
    let product = get_json(&shop, "/api/products/ROBOT-ARM-2", None).await;
    assert_eq!(product["product"]["sku"], "ROBOT-ARM-2", "{product}");
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'catalog'",
    )
    .fetch_one(database.pool())
    .await
    .expect("the schema can be read");
    assert!(tables > 0, "the catalog lives in PostgreSQL");
    assert!(
        !data.path().join("data").exists(),
        "no SQLite file is made when servers are given"
    );
    let (status, said) = shop.interrupt().await;
    assert!(status.success(), "{status}\n{said}");
}

#[tokio::test]
async fn a_taken_port_is_named_with_the_flag_that_changes_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("an address").port().to_string();
    let data = tempfile::tempdir().expect("a temporary directory");
    let data_dir = data.path().to_str().expect("a UTF-8 path");
    let output = spawn(&["--data-dir", data_dir, "--port", &port])
        .wait_with_output()
        .await
        .expect("eshop up runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains(&format!("port {port}")) && said.contains("--port"),
        "{said}"
    );
}

#[tokio::test]
async fn a_database_without_a_redis_is_refused_before_anything_starts() {
    let output = spawn(&[
        "--port",
        &free_port().to_string(),
        "--database-url",
        "postgres://localhost/eshop",
    ])
    .wait_with_output()
    .await
    .expect("eshop up runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a usage error: {said}");
    assert!(said.contains("--redis-url"), "{said}");
}
