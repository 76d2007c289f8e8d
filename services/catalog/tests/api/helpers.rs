//! Running the catalog for a test, and typed requests against it.

use std::time::Duration;

use eshop_catalog::CatalogSettings;
use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestBackend, TestSqlStore};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub(crate) use eshop_test_support::assert_error;

/// A catalog of a test's own.
pub(crate) struct TestApp {
    pub(crate) service: RunningService,
    pub(crate) http: reqwest::Client,
    // Dropped after the service, which stops first.
    _store: TestSqlStore,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Duration::from_secs(900)).await
}

pub(crate) async fn spawn_with(backend: TestBackend, reservation_ttl: Duration) -> TestApp {
    let store = TestSqlStore::create(backend).await;
    let settings = CatalogSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        demo_data: false,
        reservation_ttl,
    };
    let application = eshop_catalog::build(settings)
        .await
        .expect("the catalog builds");
    TestApp {
        service: eshop_test_support::run(application).await,
        http: reqwest::Client::new(),
        _store: store,
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.address)
    }

    /// `GET` of the service's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.service.admin))
            .send()
            .await
            .expect("the catalog answers")
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the catalog answers")
    }

    /// GET that must answer 200, as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// A call with the internal credential.
    pub(crate) async fn internal(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-internal-token", INTERNAL_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the catalog answers")
    }

    pub(crate) async fn load_demo_data(&self) -> u64 {
        let response = self
            .internal(reqwest::Method::POST, "/internal/demo-data", None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        body["added"].as_u64().expect("a count")
    }

    /// Adds a category and a product with `stock` units; returns the SKU.
    pub(crate) async fn add_product(&self, sku: &str, stock: i64) -> String {
        let category = self
            .internal(
                reqwest::Method::PUT,
                "/internal/categories/test",
                Some(json!({"name": "Test", "description": "Things for tests"})),
            )
            .await;
        assert_eq!(category.status(), StatusCode::NO_CONTENT);
        let product = self
            .internal(
                reqwest::Method::PUT,
                &format!("/internal/products/{sku}"),
                Some(json!({
                    "name": format!("Product {sku}"),
                    "description": "A product made for a test",
                    "price_cents": 1999,
                    "category": "test",
                    "stock": stock,
                    "weight_grams": 250,
                })),
            )
            .await;
        assert_eq!(
            product.status(),
            StatusCode::OK,
            "{}",
            product.text().await.unwrap_or_default()
        );
        sku.to_owned()
    }

    pub(crate) async fn stock_of(&self, sku: &str) -> i64 {
        self.get_json(&format!("/v1/products/{sku}")).await["stock"]
            .as_i64()
            .expect("stock is a number")
    }

    pub(crate) async fn reserve(&self, id: uuid::Uuid, lines: Value) -> Response {
        self.internal(
            reqwest::Method::PUT,
            &format!("/internal/reservations/{id}"),
            Some(json!({ "lines": lines })),
        )
        .await
    }
}

impl TestApp {
    /// `POST /internal/reservations/{id}/{action}`: commit or release.
    pub(crate) async fn transition(&self, id: uuid::Uuid, action: &str) -> Response {
        self.internal(
            reqwest::Method::POST,
            &format!("/internal/reservations/{id}/{action}"),
            None,
        )
        .await
    }
}
