//! What `eshop up` promises beyond its pages.

use std::time::Duration;

use eshop_test_support::TestDatabase;
use reqwest::StatusCode;
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
    assert_eq!(said.lines().count(), 1, "one clean message: {said}");
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

#[tokio::test]
async fn a_second_up_on_the_same_data_directory_is_refused_naming_it() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let first = EshopUp::start(data.path(), &[]).await;
    let data_dir = data.path().to_str().expect("a UTF-8 path");
    let output = spawn(&["--data-dir", data_dir, "--port", &free_port().to_string()])
        .wait_with_output()
        .await
        .expect("eshop up runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("another `eshop up`")
            && said.contains(data_dir)
            && said.contains("--data-dir"),
        "{said}"
    );
    assert_eq!(said.lines().count(), 1, "one clean message: {said}");
    let (status, said) = first.interrupt().await;
    assert!(status.success(), "the first one runs on: {said}");
}

#[tokio::test]
async fn the_data_directory_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let data = tempfile::tempdir().expect("a temporary directory");
    let shop = EshopUp::start(data.path(), &[]).await;
    let mut seen = 0;
    let mut pending = vec![data.path().to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).expect("metadata");
        let mode = metadata.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        seen += 1;
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a directory") {
                pending.push(entry.expect("an entry").path());
            }
        }
    }
    eprintln!("{seen} files and directories, none readable by others");
    assert!(
        seen > 5,
        "the databases, keys and lock were looked at: {seen}"
    );
    let (status, said) = shop.interrupt().await;
    assert!(status.success(), "{said}");
}

#[tokio::test]
async fn it_logs_as_serve_does_on_stderr() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let shop = EshopUp::start(data.path(), &["--log", "info"]).await;
    let products = http()
        .get(format!("{}/api/products", shop.url()))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(products.status(), StatusCode::OK);
    let (status, said) = shop.interrupt().await;
    assert!(status.success(), "{said}");
    let logged = said
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|line| {
            line["span"]["path"] == "/api/products" && line["span"]["service"] == "gateway"
        });
    assert!(logged, "a JSON log line of the request: {said}");
}

#[tokio::test]
async fn with_host_the_storefront_is_reached_beyond_loopback() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let shop = EshopUp::start(data.path(), &["--host", "0.0.0.0"]).await;
    let port = shop.url().rsplit(':').next().expect("a port").to_owned();
    // 127.0.0.2 is another address of this machine: a listener on
    // 127.0.0.1 alone would refuse it.
    let page = http()
        .get(format!("http://127.0.0.2:{port}/"))
        .send()
        .await
        .expect("the storefront answers on another address");
    assert_eq!(page.status(), StatusCode::OK);
    let (status, said) = shop.interrupt().await;
    assert!(status.success(), "{said}");
    assert!(
        said.contains(&format!("listening on 0.0.0.0:{port}")),
        "{said}"
    );
}
