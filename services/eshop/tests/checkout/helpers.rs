//! A shop of a test's own, customers, and typed requests against it.

use std::time::{Duration, Instant};

use eshop::{
    invariants::{self, Figures, Scope},
    shop::{JwtKeys, Shop, ShopConfig, Stores},
};
use eshop_test_support::{INTERNAL_TOKEN, TestBackend, TestDatabase, TestKeys, TestRedis};
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

/// How long events and compensations may take to land in these tests.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);
/// How long a client keeps sending a checkout again while the shop is
/// busy: long, for a hundred checkouts at once on a loaded two-core machine.
const CHECKOUT_PATIENCE: Duration = Duration::from_secs(120);

/// What keeps a test shop's data alive.
struct Storage {
    _database: Option<TestDatabase>,
    _redis: Option<TestRedis>,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) struct TestShop {
    pub(crate) shop: Shop,
    pub(crate) config: ShopConfig,
    pub(crate) http: reqwest::Client,
    _storage: Storage,
}

/// A registered, logged-in customer.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) token: String,
}

/// How long things take in a test shop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) dispatch_delay: Duration,
    /// How long a checkout waits for an unavailable service before it is
    /// undone: long, unless a test is about exactly that.
    pub(crate) checkout_deadline: Duration,
    /// How long finished records are kept: long, unless a test is about
    /// pruning.
    pub(crate) retention: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            dispatch_delay: Duration::from_millis(300),
            checkout_deadline: Duration::from_secs(60),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

async fn config(backend: TestBackend, timing: Timing) -> (ShopConfig, Storage) {
    let (stores, storage) = match backend {
        TestBackend::Server => {
            let database = TestDatabase::create().await;
            let redis = TestRedis::create().await;
            (
                Stores::Server {
                    database_url: SecretString::from(database.url()),
                    redis_url: SecretString::from(redis.url().to_owned()),
                    redis_prefix: redis.prefix().to_owned(),
                },
                Storage {
                    _database: Some(database),
                    _redis: Some(redis),
                    _dir: None,
                },
            )
        }
        TestBackend::Embedded => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            (
                Stores::Embedded {
                    data_dir: dir.path().to_owned(),
                },
                Storage {
                    _database: None,
                    _redis: None,
                    _dir: Some(dir),
                },
            )
        }
    };
    let keys = TestKeys::generate();
    let config = ShopConfig {
        stores,
        internal_token: SecretString::from(INTERNAL_TOKEN),
        keys: JwtKeys {
            private_pem: SecretString::from(keys.private_pem.clone()),
            public_pem: keys.public_pem,
        },
        demo_data: true,
        host: [127, 0, 0, 1].into(),
        gateway: ([127, 0, 0, 1], 0).into(),
        log: "warn".to_owned(),
        dispatch_delay: timing.dispatch_delay,
        delivery_delay: Duration::from_millis(300),
        checkout_lease: Duration::from_secs(1),
        checkout_deadline: timing.checkout_deadline,
        retention: timing.retention,
    };
    (config, storage)
}

pub(crate) async fn spawn(backend: TestBackend) -> TestShop {
    spawn_with(backend, Timing::default(), &[]).await
}

/// A shop with `timing`, without the services in `left_out`.
pub(crate) async fn spawn_with(
    backend: TestBackend,
    timing: Timing,
    left_out: &[&str],
) -> TestShop {
    let (config, storage) = config(backend, timing).await;
    let shop = Shop::start(&config, left_out)
        .await
        .expect("the shop starts");
    for address in shop.admin_addresses().values() {
        eshop_test_support::wait_until_ready(&format!("http://{address}")).await;
    }
    TestShop {
        shop,
        config,
        http: reqwest::Client::new(),
        _storage: storage,
    }
}

impl TestShop {
    pub(crate) fn url(&self, service: &str, path: &str) -> String {
        format!("{}{path}", self.shop.url(service))
    }

    pub(crate) fn scope(&self) -> Scope {
        Scope {
            catalog: self.shop.url("catalog"),
            wallet: self.shop.url("wallet"),
            orders: self.shop.url("orders"),
            payments: self.shop.url("payments"),
            internal_token: SecretString::from(INTERNAL_TOKEN),
            stuck_after: SETTLE,
        }
    }

    /// Waits until every invariant holds and no checkout is unfinished.
    pub(crate) async fn settle(&self) -> Figures {
        let figures = invariants::settle(&self.scope(), SETTLE)
            .await
            .unwrap_or_else(|violations| panic!("invariants: {violations}"));
        eprintln!("invariants hold: {figures}");
        figures
    }

    /// Registers and logs in a new customer.
    pub(crate) async fn customer(&self) -> Customer {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let registered = self
            .http
            .post(self.url("users", "/v1/users"))
            .json(&json!({"email": email, "password": "correct horse battery", "name": "Test Customer"}))
            .send()
            .await
            .expect("users answers");
        assert_eq!(registered.status(), StatusCode::CREATED, "registering");
        let session = self
            .http
            .post(self.url("users", "/v1/sessions"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .expect("users answers");
        assert_eq!(session.status(), StatusCode::OK, "logging in");
        let session: Value = session.json().await.expect("a session");
        Customer {
            token: session["token"].as_str().expect("a token").to_owned(),
        }
    }

    pub(crate) async fn top_up(&self, customer: &Customer, cents: i64) {
        let response = self
            .http
            .post(self.url("wallet", "/v1/wallet/top-ups"))
            .bearer_auth(&customer.token)
            .header("idempotency-key", Uuid::new_v4().to_string())
            .json(&json!({"amount_cents": cents, "card_number": "4242 4242 4242 4242"}))
            .send()
            .await
            .expect("wallet answers");
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    pub(crate) async fn balance(&self, customer: &Customer) -> i64 {
        let wallet: Value = self
            .http
            .get(self.url("wallet", "/v1/wallet"))
            .bearer_auth(&customer.token)
            .send()
            .await
            .expect("wallet answers")
            .json()
            .await
            .expect("a wallet");
        wallet["balance_cents"].as_i64().expect("a balance")
    }

    pub(crate) async fn add_to_cart(&self, customer: &Customer, sku: &str, quantity: u32) {
        let response = self
            .http
            .post(self.url("cart", "/v1/cart/items"))
            .bearer_auth(&customer.token)
            .json(&json!({"sku": sku, "quantity": quantity}))
            .send()
            .await
            .expect("cart answers");
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub(crate) async fn cart_items(&self, customer: &Customer) -> i64 {
        let cart: Value = self
            .http
            .get(self.url("cart", "/v1/cart"))
            .bearer_auth(&customer.token)
            .send()
            .await
            .expect("cart answers")
            .json()
            .await
            .expect("a cart");
        cart["item_count"].as_i64().expect("an item count")
    }

    pub(crate) async fn product(&self, sku: &str) -> Value {
        self.http
            .get(self.url("catalog", &format!("/v1/products/{sku}")))
            .send()
            .await
            .expect("catalog answers")
            .json()
            .await
            .expect("a product")
    }

    pub(crate) async fn stock(&self, sku: &str) -> i64 {
        self.product(sku).await["stock"].as_i64().expect("stock")
    }

    /// Sets a product's stock through catalog's internal API.
    pub(crate) async fn set_stock(&self, sku: &str, stock: i64) {
        let mut product = self.product(sku).await;
        let body = json!({
            "name": product["name"].take(),
            "description": product["description"].take(),
            "price_cents": product["price_cents"].take(),
            "category": product["category"].take(),
            "weight_grams": product["weight_grams"].take(),
            "stock": stock,
        });
        let response = self
            .http
            .put(self.url("catalog", &format!("/internal/products/{sku}")))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("catalog answers");
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A checkout of the customer's cart to Paris with `payment`.
    pub(crate) async fn checkout(
        &self,
        customer: &Customer,
        key: &str,
        payment: Value,
    ) -> Response {
        self.http
            .post(self.url("payments", "/v1/checkouts"))
            .bearer_auth(&customer.token)
            .header("idempotency-key", key)
            .json(&checkout_body(&payment))
            .send()
            .await
            .expect("payments answers")
    }

    /// A checkout sent again with the same key while the shop answers 503
    /// (busy) or 202 (still waiting for a service), as a client should: the
    /// key makes the retries safe, and each returns the outcome once there is
    /// one. Gives the final status and body.
    pub(crate) async fn checkout_patiently(
        &self,
        customer: &Customer,
        key: &str,
        payment: Value,
    ) -> (StatusCode, Value) {
        let deadline = Instant::now() + CHECKOUT_PATIENCE;
        loop {
            let response = self.checkout(customer, key, payment.clone()).await;
            let status = response.status();
            let body: Value = response.json().await.expect("JSON");
            let pending = matches!(
                status,
                StatusCode::ACCEPTED | StatusCode::SERVICE_UNAVAILABLE
            );
            if !pending || Instant::now() > deadline {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn order(&self, customer: &Customer, id: &str) -> Value {
        self.http
            .get(self.url("orders", &format!("/v1/orders/{id}")))
            .bearer_auth(&customer.token)
            .send()
            .await
            .expect("orders answers")
            .json()
            .await
            .expect("an order")
    }

    /// Polls an order until it has `status`.
    pub(crate) async fn wait_for_order(
        &self,
        customer: &Customer,
        id: &str,
        status: &str,
    ) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let order = self.order(customer, id).await;
            if order["status"] == status {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} is {} after {SETTLE:?}, not {status}",
                order["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `read` returns `expected`.
    pub(crate) async fn eventually<F, Fut>(&self, what: &str, expected: i64, read: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = i64>,
    {
        let deadline = Instant::now() + SETTLE;
        loop {
            let value = read().await;
            if value == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} is {value}, not {expected}, after {SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl TestShop {
    /// The `request` column of every row of payments' `checkouts` table,
    /// as stored, read from the database itself.
    pub(crate) async fn stored_checkout_requests(&self) -> Vec<String> {
        use sqlx::Row;
        match &self.config.stores {
            Stores::Server { database_url, .. } => {
                let pool = eshop_platform::stores::postgres_pool(database_url, "payments")
                    .expect("a pool on payments' schema");
                sqlx::query("SELECT request::text AS request FROM checkouts")
                    .fetch_all(&pool)
                    .await
                    .expect("reading payments' checkouts")
                    .iter()
                    .map(|row| row.get("request"))
                    .collect()
            }
            Stores::Embedded { data_dir } => {
                let pool = eshop_platform::stores::sqlite_pool(data_dir, "payments")
                    .expect("a pool on payments' file");
                sqlx::query("SELECT request FROM checkouts")
                    .fetch_all(&pool)
                    .await
                    .expect("reading payments' checkouts")
                    .iter()
                    .map(|row| row.get("request"))
                    .collect()
            }
        }
    }
}

/// What a checkout to Paris sends (shipping's city ids are stable).
pub(crate) fn checkout_body(payment: &Value) -> Value {
    json!({
        "address": {"name": "Test Customer", "line1": "1 Rue de Rivoli", "postal_code": "75001", "city_id": "fr-paris"},
        "payment": payment,
    })
}

pub(crate) fn wallet() -> Value {
    json!({"method": "wallet"})
}

pub(crate) fn card(number: &str) -> Value {
    json!({"method": "card", "card_number": number})
}

/// The error code of a failed answer.
pub(crate) async fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
