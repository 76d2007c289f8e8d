//! Running the cart for a test, next to a real catalog on the same kind of
//! backend, and typed requests against it.

use std::time::{Duration, Instant};

use eshop_cart::CartSettings;
use eshop_catalog::CatalogSettings;
use eshop_test_support::{
    INTERNAL_TOKEN, RunningService, TestBackend, TestKeyValueStore, TestKeys, TestSqlStore,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) use eshop_test_support::assert_error;

/// The time to live of carts unless a test asks for another.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A cart and a catalog of a test's own.
pub(crate) struct TestApp {
    pub(crate) backend: TestBackend,
    cart: Option<RunningService>,
    /// The cart's base URL.
    pub(crate) address: String,
    /// The cart's probes and metrics.
    pub(crate) admin: String,
    catalog: Option<RunningService>,
    catalog_address: String,
    pub(crate) http: reqwest::Client,
    pub(crate) keys: TestKeys,
    settings: CartSettings,
    // Dropped after the services, which stop first.
    _cart_store: TestKeyValueStore,
    _catalog_store: TestSqlStore,
}

/// Who makes a request: the headers that say so.
#[derive(Debug, Clone)]
pub(crate) struct Shopper {
    /// The user's or the session's id.
    pub(crate) id: Uuid,
    headers: Vec<(&'static str, String)>,
}

impl Shopper {
    /// An anonymous visitor with a fresh session id.
    pub(crate) fn session() -> Self {
        Self::session_with(Uuid::new_v4())
    }

    /// An anonymous visitor with this session id.
    pub(crate) fn session_with(id: Uuid) -> Self {
        Self {
            id,
            headers: Vec::new(),
        }
        .header("x-session-id", &id.to_string())
    }

    /// Somebody with no credentials at all.
    pub(crate) fn nobody() -> Self {
        Self {
            id: Uuid::nil(),
            headers: Vec::new(),
        }
    }

    /// This shopper with one more header.
    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// This shopper with `authorization: Bearer <token>` added.
    pub(crate) fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, DEFAULT_TTL).await
}

pub(crate) async fn spawn_with(backend: TestBackend, cart_ttl: Duration) -> TestApp {
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

    let cart_store = TestKeyValueStore::create(backend).await;
    let keys = TestKeys::generate();
    let settings = CartSettings {
        server: eshop_test_support::server_settings(),
        store: cart_store.settings(),
        jwt_public_key: keys.public_pem.clone(),
        catalog_url: catalog.address.parse().expect("a service URL"),
        cart_ttl,
    };
    let cart = run_cart(&settings).await;
    let app = TestApp {
        backend,
        address: cart.address.clone(),
        admin: cart.admin.clone(),
        cart: Some(cart),
        catalog_address: catalog.address.clone(),
        catalog: Some(catalog),
        http: reqwest::Client::new(),
        keys,
        settings,
        _cart_store: cart_store,
        _catalog_store: catalog_store,
    };
    let category = app
        .catalog_internal(
            "/internal/categories/test",
            json!({"name": "Test", "description": "Things for tests"}),
        )
        .await;
    assert_eq!(category.status(), StatusCode::NO_CONTENT);
    app
}

async fn run_cart(settings: &CartSettings) -> RunningService {
    let application = eshop_cart::build(settings.clone())
        .await
        .expect("the cart builds");
    eshop_test_support::run(application).await
}

/// Waits (up to 10 s) until nothing answers at `address` any more.
async fn wait_until_gone(address: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "{address} still answers after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A logged-in user with a fresh id.
    pub(crate) fn user(&self) -> Shopper {
        let id = Uuid::new_v4();
        Shopper {
            id,
            headers: Vec::new(),
        }
        .token(&self.keys.token_for(id))
    }

    /// A request to the cart as `shopper`, with a JSON body if given.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        shopper: &Shopper,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        for (name, value) in &shopper.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the cart answers")
    }

    pub(crate) async fn get_cart(&self, shopper: &Shopper) -> Response {
        self.request(Method::GET, "/v1/cart", shopper, None).await
    }

    /// The shopper's cart, which must answer 200.
    pub(crate) async fn cart(&self, shopper: &Shopper) -> Value {
        ok_cart(self.get_cart(shopper).await).await
    }

    /// `POST /v1/cart/items`: adds `quantity` units.
    pub(crate) async fn add(&self, shopper: &Shopper, sku: &str, quantity: u32) -> Response {
        let body = json!({"sku": sku, "quantity": quantity});
        self.request(Method::POST, "/v1/cart/items", shopper, Some(body))
            .await
    }

    /// `PUT /v1/cart/items/{sku}`: sets the quantity.
    pub(crate) async fn set(&self, shopper: &Shopper, sku: &str, quantity: u32) -> Response {
        let body = json!({ "quantity": quantity });
        self.request(
            Method::PUT,
            &format!("/v1/cart/items/{sku}"),
            shopper,
            Some(body),
        )
        .await
    }

    pub(crate) async fn remove(&self, shopper: &Shopper, sku: &str) -> Response {
        self.request(
            Method::DELETE,
            &format!("/v1/cart/items/{sku}"),
            shopper,
            None,
        )
        .await
    }

    pub(crate) async fn clear(&self, shopper: &Shopper) -> Response {
        self.request(Method::DELETE, "/v1/cart", shopper, None)
            .await
    }

    /// `POST /v1/cart/merge` of `session_id` into the shopper's cart.
    pub(crate) async fn merge(&self, shopper: &Shopper, session_id: &str) -> Response {
        let body = json!({ "session_id": session_id });
        self.request(Method::POST, "/v1/cart/merge", shopper, Some(body))
            .await
    }

    /// A call to the cart with the internal credential.
    pub(crate) async fn internal(&self, method: Method, path: &str) -> Response {
        self.http
            .request(method, self.url(path))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .expect("the cart answers")
    }

    /// The cart's metrics, in the Prometheus text format.
    pub(crate) async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .expect("the cart answers");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("text")
    }

    /// A write to the catalog's internal API.
    async fn catalog_internal(&self, path: &str, body: Value) -> Response {
        self.http
            .put(format!("{}{path}", self.catalog_address))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("the catalog answers")
    }

    /// Creates or replaces a product in the catalog, named `Product <sku>`.
    pub(crate) async fn product(&self, sku: &str, price_cents: i64, stock: i64) {
        self.named_product(sku, &format!("Product {sku}"), price_cents, stock)
            .await;
    }

    /// Creates or replaces a product in the catalog.
    pub(crate) async fn named_product(&self, sku: &str, name: &str, price_cents: i64, stock: i64) {
        let response = self
            .catalog_internal(
                &format!("/internal/products/{sku}"),
                json!({
                    "name": name,
                    "description": "A product made for a test",
                    "price_cents": price_cents,
                    "category": "test",
                    "stock": stock,
                    "weight_grams": 250,
                }),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Stops the catalog and waits until it no longer answers.
    pub(crate) async fn stop_catalog(&mut self) {
        drop(self.catalog.take());
        wait_until_gone(&self.catalog_address).await;
    }

    /// Stops the cart, waits until it no longer answers, and starts it
    /// again on the same store.
    pub(crate) async fn restart_cart(&mut self) {
        drop(self.cart.take());
        wait_until_gone(&self.address).await;
        let cart = run_cart(&self.settings).await;
        self.address.clone_from(&cart.address);
        self.admin.clone_from(&cart.admin);
        self.cart = Some(cart);
    }
}

/// The cart in a response that must be 200.
pub(crate) async fn ok_cart(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A cart's lines as (SKU, quantity) pairs, in the order it lists them.
pub(crate) fn lines(cart: &Value) -> Vec<(String, i64)> {
    cart["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|line| {
            (
                line["sku"].as_str().expect("a SKU").to_owned(),
                line["quantity"].as_i64().expect("a quantity"),
            )
        })
        .collect()
}

/// `(sku, quantity)` pairs as owned values, to compare with [`lines`].
pub(crate) fn expected(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs
        .iter()
        .map(|(sku, quantity)| ((*sku).to_owned(), *quantity))
        .collect()
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
pub(crate) async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
