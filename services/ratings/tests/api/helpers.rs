//! Running the ratings service for a test, next to a real catalog of its
//! own, and typed requests against both.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use eshop_catalog::CatalogSettings;
use eshop_platform::{auth::JwtSigner, settings::ServiceUrl};
use eshop_ratings::RatingsSettings;
use eshop_test_support::{
    INTERNAL_TOKEN, RunningService, TestBackend, TestKeyValueStore, TestKeys, TestSqlStore,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) use eshop_test_support::assert_error;

/// The ratings service and the catalog it checks products with, each on
/// the test's backend and stores of their own.
pub(crate) struct TestApp {
    // Fields drop in order: the services stop before their stores go.
    ratings: RunningService,
    catalog: Option<RunningService>,
    pub(crate) http: reqwest::Client,
    pub(crate) keys: TestKeys,
    signer: JwtSigner,
    settings: RatingsSettings,
    catalog_address: String,
    ratings_store: TestKeyValueStore,
    _catalog_store: TestSqlStore,
}

/// A user with a token of their own.
pub(crate) struct TestUser {
    pub(crate) name: String,
    pub(crate) token: String,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    let catalog_store = TestSqlStore::create(backend).await;
    let catalog = eshop_catalog::build(CatalogSettings {
        server: eshop_test_support::server_settings(),
        store: catalog_store.settings(),
        demo_data: false,
        reservation_ttl: Duration::from_secs(900),
    })
    .await
    .expect("the catalog builds");
    let catalog = eshop_test_support::run(catalog).await;
    let catalog_address = catalog.address.clone();

    let ratings_store = TestKeyValueStore::create(backend).await;
    let keys = TestKeys::generate();
    let settings = RatingsSettings {
        server: eshop_test_support::server_settings(),
        store: ratings_store.settings(),
        jwt_public_key: keys.public_pem.clone(),
        catalog_url: catalog_address
            .parse::<ServiceUrl>()
            .expect("the catalog's address is a URL"),
    };
    let ratings = start(settings.clone()).await;
    let app = TestApp {
        ratings,
        catalog: Some(catalog),
        http: reqwest::Client::new(),
        signer: JwtSigner::from_private_pem(&keys.private_pem).expect("the test key loads"),
        keys,
        settings,
        catalog_address,
        ratings_store,
        _catalog_store: catalog_store,
    };
    let category = app
        .catalog_internal(
            Method::PUT,
            "/internal/categories/test",
            json!({"name": "Test", "description": "Things for tests"}),
        )
        .await;
    assert_eq!(category.status(), StatusCode::NO_CONTENT);
    app
}

async fn start(settings: RatingsSettings) -> RunningService {
    let application = eshop_ratings::build(settings)
        .await
        .expect("the ratings service builds");
    eshop_test_support::run(application).await
}

impl TestApp {
    /// Where the ratings service keeps its data.
    pub(crate) fn ratings_store(&self) -> &TestKeyValueStore {
        &self.ratings_store
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ratings.address)
    }

    async fn catalog_internal(&self, method: Method, path: &str, body: Value) -> Response {
        self.http
            .request(method, format!("{}{path}", self.catalog_address))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("the catalog answers")
    }

    /// Adds a product to the catalog; returns its SKU.
    pub(crate) async fn add_product(&self, sku: &str) -> String {
        let product = self
            .catalog_internal(
                Method::PUT,
                &format!("/internal/products/{sku}"),
                json!({
                    "name": format!("Product {sku}"),
                    "description": "A product made for a test",
                    "price_cents": 1999,
                    "category": "test",
                    "stock": 10,
                    "weight_grams": 250,
                }),
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

    /// Stops the catalog and waits (up to 10 s) until it refuses connections.
    pub(crate) async fn stop_catalog(&mut self) {
        drop(self.catalog.take());
        let address: SocketAddr = self
            .catalog_address
            .trim_start_matches("http://")
            .parse()
            .expect("the catalog listens on an IP address");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(address).await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the catalog still accepts connections after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the ratings service and starts it again on the same stores.
    pub(crate) async fn restart_ratings(&mut self) {
        let address = self.ratings.address.clone();
        self.ratings = start(self.settings.clone()).await;
        assert_ne!(address, self.ratings.address, "a new process, a new port");
    }

    /// A new user called `name`, with a valid token.
    pub(crate) fn user(&self, name: &str) -> TestUser {
        let id = Uuid::new_v4();
        let (token, _) = self
            .signer
            .sign(
                id,
                &format!("{id}@example.com"),
                name,
                Duration::from_secs(600),
            )
            .expect("signing works");
        TestUser {
            name: name.to_owned(),
            token,
        }
    }

    /// A request to a user endpoint with `authorization: Bearer <token>`.
    pub(crate) async fn as_user(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the ratings service answers")
    }

    /// `PUT /v1/products/{sku}/rating` with `body`.
    pub(crate) async fn rate(&self, user: &TestUser, sku: &str, body: Value) -> Response {
        self.as_user(
            Method::PUT,
            &format!("/v1/products/{sku}/rating"),
            &user.token,
            Some(body),
        )
        .await
    }

    /// Rates and expects it taken (201 or 200); returns the stored rating.
    pub(crate) async fn rate_ok(
        &self,
        user: &TestUser,
        sku: &str,
        stars: u8,
        review: Option<&str>,
    ) -> Value {
        let response = self
            .rate(user, sku, json!({"stars": stars, "review": review}))
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}: {body}"
        );
        body
    }

    /// `GET /v1/products/{sku}/rating`: the user's own rating.
    pub(crate) async fn my_rating(&self, user: &TestUser, sku: &str) -> Response {
        self.as_user(
            Method::GET,
            &format!("/v1/products/{sku}/rating"),
            &user.token,
            None,
        )
        .await
    }

    /// `DELETE /v1/products/{sku}/rating`.
    pub(crate) async fn unrate(&self, user: &TestUser, sku: &str) -> Response {
        self.as_user(
            Method::DELETE,
            &format!("/v1/products/{sku}/rating"),
            &user.token,
            None,
        )
        .await
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the ratings service answers")
    }

    /// `GET` of the service's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.ratings.admin))
            .send()
            .await
            .expect("the ratings service answers")
    }

    /// GET that must answer 200, as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// A product's `(average, count)`.
    pub(crate) async fn summary(&self, sku: &str) -> (Option<f64>, u64) {
        let summary = self.get_json(&format!("/v1/products/{sku}/ratings")).await;
        assert_eq!(summary["sku"], sku);
        (
            summary["average"].as_f64(),
            summary["count"].as_u64().expect("a count"),
        )
    }

    /// A product's latest reviews, as `(author, stars, review)`.
    pub(crate) async fn reviews(&self, sku: &str, query: &str) -> Vec<(String, u64, String)> {
        let reviews = self
            .get_json(&format!("/v1/products/{sku}/reviews{query}"))
            .await;
        reviews
            .as_array()
            .expect("a list")
            .iter()
            .map(|review| {
                (
                    review["author"].as_str().expect("an author").to_owned(),
                    review["stars"].as_u64().expect("stars"),
                    review["review"].as_str().expect("a review").to_owned(),
                )
            })
            .collect()
    }
}
