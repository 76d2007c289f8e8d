//! Running shipping for a test, and typed requests against it.

use std::time::Duration;

use eshop_shipping::{ShippingSettings, domain::Coordinates};
use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestBackend, TestSqlStore};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) use eshop_test_support::assert_error;

/// The warehouse of every test: Rotterdam.
pub(crate) const WAREHOUSE: (f64, f64) = (51.92, 4.48);

/// How long quotes stay open unless a test says otherwise.
pub(crate) const QUOTE_TTL: Duration = Duration::from_secs(30 * 60);
/// How long expired quotes are kept unless a test says otherwise.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Shipping with a store of a test's own.
pub(crate) struct TestApp {
    pub(crate) service: RunningService,
    pub(crate) http: reqwest::Client,
    quote_ttl: Duration,
    retention: Duration,
    // Dropped after the service, which stops first.
    store: TestSqlStore,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, QUOTE_TTL).await
}

pub(crate) async fn spawn_with(backend: TestBackend, quote_ttl: Duration) -> TestApp {
    start(TestSqlStore::create(backend).await, quote_ttl, RETENTION).await
}

/// Shipping whose quotes live `quote_ttl` and are deleted `retention` after.
pub(crate) async fn spawn_pruning(
    backend: TestBackend,
    quote_ttl: Duration,
    retention: Duration,
) -> TestApp {
    start(TestSqlStore::create(backend).await, quote_ttl, retention).await
}

async fn start(store: TestSqlStore, quote_ttl: Duration, retention: Duration) -> TestApp {
    let settings = ShippingSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        warehouse: Coordinates::new(WAREHOUSE.0, WAREHOUSE.1).expect("valid coordinates"),
        quote_ttl,
        retention,
    };
    let application = eshop_shipping::build(settings)
        .await
        .expect("shipping builds");
    TestApp {
        service: eshop_test_support::run(application).await,
        http: reqwest::Client::new(),
        quote_ttl,
        retention,
        store,
    }
}

impl TestApp {
    /// Stops this shipping and starts another on the same store.
    pub(crate) async fn restarted(self) -> TestApp {
        let Self {
            service,
            store,
            quote_ttl,
            retention,
            ..
        } = self;
        drop(service);
        start(store, quote_ttl, retention).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.address)
    }

    /// `GET` of the service's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.service.admin))
            .send()
            .await
            .expect("shipping answers")
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("shipping answers")
    }

    /// GET that must answer 200, as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// The cities a search finds, as JSON.
    pub(crate) async fn search(&self, query: &str) -> Vec<Value> {
        let found = self.get_json(&format!("/v1/cities?{query}")).await;
        found.as_array().expect("a list of cities").clone()
    }

    /// The names of the cities a search finds, in order.
    pub(crate) async fn search_names(&self, query: &str) -> Vec<String> {
        self.search(query)
            .await
            .iter()
            .map(|city| city["name"].as_str().expect("a name").to_owned())
            .collect()
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("shipping answers")
    }

    /// `POST /v1/quotes`.
    pub(crate) async fn request_quote(&self, city_id: &str, weight_grams: u32) -> Response {
        self.post_json(
            "/v1/quotes",
            &json!({"city_id": city_id, "weight_grams": weight_grams}),
        )
        .await
    }

    /// A quote that must be made (201), as JSON.
    pub(crate) async fn quote(&self, city_id: &str, weight_grams: u32) -> Value {
        let response = self.request_quote(city_id, weight_grams).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "quote to {city_id}: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("a JSON body")
    }

    /// A call with the internal credential.
    pub(crate) async fn internal(
        &self,
        method: Method,
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
        request.send().await.expect("shipping answers")
    }

    /// `POST /internal/quotes/{id}/confirm` for `reference`.
    pub(crate) async fn confirm(&self, id: &str, reference: &str) -> Response {
        self.internal(
            Method::POST,
            &format!("/internal/quotes/{id}/confirm"),
            Some(json!({ "reference": reference })),
        )
        .await
    }

    /// The quote lifetime this shipping runs with.
    pub(crate) fn quote_ttl(&self) -> Duration {
        self.quote_ttl
    }

    /// `/metrics`, as text.
    pub(crate) async fn metrics(&self) -> String {
        self.admin_get("/metrics").await.text().await.expect("text")
    }
}

/// The id of a JSON object.
pub(crate) fn id_of(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}
