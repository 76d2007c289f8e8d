//! A customer of a running shop, through the gateway's public `/api` only:
//! registers, tops up the wallet with the test card, puts a product in the
//! cart, checks out paying from the wallet and follows the order.
//!
//! The image tests use it against the shop running in containers, and the
//! `checkout` binary (`src/bin/checkout.rs`) against a shop behind a
//! cluster's Ingress, which the kind end to end run (`tests/e2e/kind-e2e`)
//! does: the same calls wherever the shop runs.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// How often a wait asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// What the customer buys: a product of the demo catalog.
pub const SKU: &str = "SENSOR-IMU-3";
/// Where it ships: a city of the shipping service's list.
const CITY: &str = "fr-paris";
/// The test card that is always accepted.
const CARD: &str = "4242 4242 4242 4242";

/// Why a purchase did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ShopperError {
    #[error("{step}: {source}")]
    Request {
        step: &'static str,
        source: reqwest::Error,
    },
    #[error("{step}: HTTP {status}: {body}")]
    Refused {
        step: &'static str,
        status: StatusCode,
        body: String,
    },
    #[error("{step}: the answer lacks {field}: {body}")]
    Unexpected {
        step: &'static str,
        field: &'static str,
        body: Value,
    },
    #[error("{what} not within {waited:?}; last seen: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
}

/// A finished purchase: the order and the status it reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub order_id: String,
    pub status: String,
}

/// A registered, logged-in customer of the shop at `base_url`.
#[derive(Debug, Clone)]
pub struct Shopper {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

/// Waits until the gateway at `base_url` answers `GET /api/products/{SKU}`
/// with 200, for at most `timeout`: a new Ingress or Service takes a moment
/// to route, and the catalog behind the gateway a moment to answer. (The
/// probes are on the services' admin port, which no Ingress routes.)
pub async fn wait_for_shop(base_url: &str, timeout: Duration) -> Result<(), ShopperError> {
    let http = client()?;
    let url = format!("{}/api/products/{SKU}", base_url.trim_end_matches('/'));
    let started = Instant::now();
    loop {
        let last = match http.get(&url).send().await {
            Ok(response) if response.status() == StatusCode::OK => return Ok(()),
            Ok(response) => format!("HTTP {}", response.status()),
            Err(error) => error.to_string(),
        };
        if started.elapsed() > timeout {
            return Err(ShopperError::Timeout {
                what: format!("{url} answering 200"),
                waited: timeout,
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One whole purchase of [`SKU`] by a new customer, waited for until the
/// order is paid (or already further along).
pub async fn buy_one(base_url: &str, timeout: Duration) -> Result<Purchase, ShopperError> {
    let shopper = Shopper::register(base_url).await?;
    shopper.top_up(100_000).await?;
    shopper.add_to_cart(SKU, 1).await?;
    let order_id = shopper.check_out().await?;
    let status = shopper
        .wait_for_order(&order_id, &["paid", "dispatched", "delivered"], timeout)
        .await?;
    Ok(Purchase { order_id, status })
}

impl Shopper {
    /// Registers a new customer with a unique email and logs them in.
    pub async fn register(base_url: &str) -> Result<Self, ShopperError> {
        let mut shopper = Self {
            http: client()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: String::new(),
        };
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "correct horse battery staple";
        shopper
            .send(
                "registering",
                shopper
                    .request(Method::POST, "/api/users")
                    .json(&json!({"email": email, "password": password, "name": "Ada Tester"})),
                StatusCode::CREATED,
            )
            .await?;
        let session = shopper
            .send(
                "logging in",
                shopper
                    .request(Method::POST, "/api/sessions")
                    .json(&json!({"email": email, "password": password})),
                StatusCode::OK,
            )
            .await?;
        shopper.token = field(&session, "logging in", "token")?;
        Ok(shopper)
    }

    /// Adds `amount_cents` to the wallet with the test card.
    pub async fn top_up(&self, amount_cents: i64) -> Result<(), ShopperError> {
        self.send(
            "topping up the wallet",
            self.request(Method::POST, "/api/wallet/top-ups")
                .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&json!({"amount_cents": amount_cents, "card_number": CARD})),
            StatusCode::OK,
        )
        .await
        .map(drop)
    }

    /// Puts `quantity` of `sku` in the cart.
    pub async fn add_to_cart(&self, sku: &str, quantity: u32) -> Result<(), ShopperError> {
        self.send(
            "adding to the cart",
            self.request(Method::POST, "/api/cart/items")
                .json(&json!({"sku": sku, "quantity": quantity})),
            StatusCode::OK,
        )
        .await
        .map(drop)
    }

    /// Checks the cart out to Paris, paying from the wallet: the order's id.
    pub async fn check_out(&self) -> Result<String, ShopperError> {
        let checkout = self
            .send(
                "checking out",
                self.request(Method::POST, "/api/checkouts")
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&json!({
                        "address": {"name": "Ada Tester", "line1": "1 Rue de Rivoli", "postal_code": "75001", "city_id": CITY},
                        "payment": {"method": "wallet"},
                    })),
                StatusCode::CREATED,
            )
            .await?;
        field(&checkout, "checking out", "order_id")
    }

    /// Waits until the order's status is one of `statuses`: the status.
    pub async fn wait_for_order(
        &self,
        order_id: &str,
        statuses: &[&str],
        timeout: Duration,
    ) -> Result<String, ShopperError> {
        let started = Instant::now();
        loop {
            let orders = self
                .send(
                    "listing orders",
                    self.request(Method::GET, "/api/orders"),
                    StatusCode::OK,
                )
                .await?;
            let order = orders["items"]
                .as_array()
                .and_then(|items| items.iter().find(|item| item["id"] == order_id));
            let status = order.and_then(|order| order["status"].as_str());
            if let Some(status) = status.filter(|status| statuses.contains(status)) {
                return Ok(status.to_owned());
            }
            if started.elapsed() > timeout {
                return Err(ShopperError::Timeout {
                    what: format!("order {order_id} {}", statuses.join(" or ")),
                    waited: timeout,
                    last: orders.to_string(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if self.token.is_empty() {
            request
        } else {
            request.bearer_auth(&self.token)
        }
    }

    /// Sends `request` and expects `expected`: the JSON body.
    async fn send(
        &self,
        step: &'static str,
        request: RequestBuilder,
        expected: StatusCode,
    ) -> Result<Value, ShopperError> {
        let response = request
            .send()
            .await
            .map_err(|source| ShopperError::Request { step, source })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|source| ShopperError::Request { step, source })?;
        if status != expected {
            return Err(ShopperError::Refused { step, status, body });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }
}

fn client() -> Result<reqwest::Client, ShopperError> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|source| ShopperError::Request {
            step: "making an HTTP client",
            source,
        })
}

/// A string field of an answer.
fn field(body: &Value, step: &'static str, name: &'static str) -> Result<String, ShopperError> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ShopperError::Unexpected {
            step,
            field: name,
            body: body.clone(),
        })
}
