//! The services behind the gateway: one [`ServiceClient`] each (timeouts,
//! retries of idempotent calls, a circuit breaker, the request id), typed
//! calls for what the API and the pages need, and a readiness check per
//! service that says whether it answers.
//!
//! Users, catalog, cart, orders and payments are required: without them the
//! shop cannot sell. Ratings, wallet and shipping are optional: the pages
//! that need them say so, and the rest of the shop goes on.

use std::{net::IpAddr, time::Duration};

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use eshop_platform::{
    client::{CallError, ClientPolicy, ServiceClient},
    health::Readiness,
};
use eshop_wallet_api::WalletClient;
use prometheus_client::metrics::gauge::Gauge;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    model::{
        AddItem, Address, AddressInput, Cart, Category, Checkout, CheckoutRequest, City, Login,
        Order, OrderSummary, Page, Product, Quote, Rating, RatingInput, RatingSummary,
        Registration, Review, Session, UserProfile,
    },
    settings,
};

/// The header that carries an anonymous visitor's cart session.
pub(crate) const SESSION_HEADER: &str = "x-session-id";

/// How many reviews a product page shows.
pub(crate) const REVIEWS_SHOWN: u32 = 5;

/// Who a cart belongs to: a signed-in user, or an anonymous visitor.
#[derive(Debug, Clone)]
pub(crate) enum CartOwner {
    User(String),
    Anonymous(Uuid),
}

/// A product list query, as catalog takes it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ProductQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sort: Option<String>,
    pub(crate) page: u32,
    pub(crate) per_page: u32,
}

/// Clients for every service the gateway calls.
#[derive(Debug, Clone)]
pub(crate) struct Downstream {
    pub(crate) users: ServiceClient,
    pub(crate) catalog: ServiceClient,
    pub(crate) cart: ServiceClient,
    pub(crate) ratings: ServiceClient,
    pub(crate) wallet: WalletClient,
    pub(crate) shipping: ServiceClient,
    pub(crate) orders: ServiceClient,
    pub(crate) payments: ServiceClient,
    /// How long a checkout may take before the customer follows it instead.
    checkout_timeout: Duration,
}

/// Calls a person waits for: short attempts, one retry, and a breaker
/// that opens quickly so a page does not hang on a service that is down.
fn policy() -> ClientPolicy {
    ClientPolicy {
        timeout: Duration::from_secs(3),
        retries: 1,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        failures_to_open: 5,
        open_for: Duration::from_secs(5),
    }
}

impl Downstream {
    pub(crate) fn new(
        urls: &settings::Downstream,
        internal_token: &SecretString,
        checkout_timeout: Duration,
    ) -> Self {
        let client = |service, url: &eshop_platform::settings::ServiceUrl, policy| {
            ServiceClient::new(service, url.as_str(), internal_token.clone(), policy)
        };
        Self {
            users: client("users", &urls.users, policy()),
            catalog: client("catalog", &urls.catalog, policy()),
            cart: client("cart", &urls.cart, policy()),
            // Optional: a product page would rather go without than wait.
            ratings: client(
                "ratings",
                &urls.ratings,
                ClientPolicy {
                    timeout: Duration::from_secs(1),
                    ..policy()
                },
            ),
            wallet: WalletClient::new(client("wallet", &urls.wallet, policy())),
            shipping: client("shipping", &urls.shipping, policy()),
            orders: client("orders", &urls.orders, policy()),
            payments: client("payments", &urls.payments, policy()),
            checkout_timeout,
        }
    }

    /// A health probe per service, reported by `/readyz` under `degraded`
    /// and as the `gateway_downstream_reachable` gauge. None makes the
    /// gateway unready: it serves its apology pages and degraded answers
    /// whatever fails behind it, and taking every gateway pod out of its
    /// Service for a downstream failure would leave visitors with the
    /// Ingress's bare 502 instead.
    pub(crate) fn checks(
        &self,
        metrics: &crate::GatewayMetrics,
    ) -> Vec<std::sync::Arc<dyn Readiness>> {
        [
            ("users", &self.users),
            ("catalog", &self.catalog),
            ("cart", &self.cart),
            ("orders", &self.orders),
            ("payments", &self.payments),
            ("ratings", &self.ratings),
            ("wallet", self.wallet.service()),
            ("shipping", &self.shipping),
        ]
        .into_iter()
        .map(|(name, client)| {
            std::sync::Arc::new(Reachable {
                name,
                client: client.clone(),
                reachable: metrics
                    .reachable
                    .get_or_create(&crate::ServiceLabel { service: name })
                    .clone(),
            }) as std::sync::Arc<dyn Readiness>
        })
        .collect()
    }

    pub(crate) async fn categories(&self) -> Result<Vec<Category>, CallError> {
        self.catalog.get("/v1/categories").send().await
    }

    pub(crate) async fn products(&self, query: &ProductQuery) -> Result<Page<Product>, CallError> {
        let mut call = self
            .catalog
            .get("/v1/products")
            .query("page", query.page.to_string())
            .query("per_page", query.per_page.to_string());
        if let Some(category) = &query.category {
            call = call.query("category", category.clone());
        }
        if let Some(q) = &query.q {
            call = call.query("q", q.clone());
        }
        if let Some(sort) = &query.sort {
            call = call.query("sort", sort.clone());
        }
        let page: Page<Product> = call.send().await?;
        Ok(Page {
            items: page.items.into_iter().map(Product::served_here).collect(),
            ..page
        })
    }

    pub(crate) async fn product(&self, sku: &str) -> Result<Product, CallError> {
        let path = format!("/v1/products/{sku}");
        let product: Product = self.catalog.get(&path).send().await?;
        Ok(product.served_here())
    }

    pub(crate) async fn image(&self, sku: &str) -> Result<Bytes, CallError> {
        let path = format!("/v1/products/{sku}/image.svg");
        self.catalog.get(&path).send_bytes().await
    }

    pub(crate) async fn rating_summary(&self, sku: &str) -> Result<RatingSummary, CallError> {
        let path = format!("/v1/products/{sku}/ratings");
        self.ratings.get(&path).send().await
    }

    pub(crate) async fn reviews(&self, sku: &str) -> Result<Vec<Review>, CallError> {
        let path = format!("/v1/products/{sku}/reviews");
        self.ratings
            .get(&path)
            .query("limit", REVIEWS_SHOWN.to_string())
            .send()
            .await
    }

    /// The user's rating of a product, if they rated it.
    pub(crate) async fn my_rating(
        &self,
        sku: &str,
        token: &str,
    ) -> Result<Option<Rating>, CallError> {
        let path = format!("/v1/products/{sku}/rating");
        match self.ratings.get(&path).for_user(token).send().await {
            Ok(rating) => Ok(Some(rating)),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn rate(
        &self,
        sku: &str,
        token: &str,
        input: &RatingInput,
    ) -> Result<Rating, CallError> {
        let path = format!("/v1/products/{sku}/rating");
        self.ratings
            .request(Method::PUT, &path)
            .for_user(token)
            .json(input)
            .send()
            .await
    }

    /// How several products are rated, in the order asked.
    pub(crate) async fn ratings_of(&self, skus: &[&str]) -> Result<Vec<RatingSummary>, CallError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        self.ratings
            .get("/v1/ratings")
            .query("skus", skus.join(","))
            .send()
            .await
    }

    pub(crate) async fn cart(&self, owner: &CartOwner) -> Result<Cart, CallError> {
        as_owner(self.cart.get("/v1/cart"), owner).send().await
    }

    pub(crate) async fn add_item(
        &self,
        owner: &CartOwner,
        item: &AddItem,
    ) -> Result<Cart, CallError> {
        as_owner(self.cart.request(Method::POST, "/v1/cart/items"), owner)
            .json(item)
            .send()
            .await
    }

    pub(crate) async fn set_quantity(
        &self,
        owner: &CartOwner,
        sku: &str,
        quantity: u32,
    ) -> Result<Cart, CallError> {
        let path = format!("/v1/cart/items/{sku}");
        as_owner(self.cart.request(Method::PUT, &path), owner)
            .json(&json!({ "quantity": quantity }))
            .send()
            .await
    }

    /// Takes a product out of the cart; one that was not there is fine.
    pub(crate) async fn remove_item(&self, owner: &CartOwner, sku: &str) -> Result<(), CallError> {
        let path = format!("/v1/cart/items/{sku}");
        match as_owner(self.cart.request(Method::DELETE, &path), owner)
            .send_without_answer()
            .await
        {
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            other => other,
        }
    }

    /// At login: the anonymous visitor's cart joins the user's.
    pub(crate) async fn merge_cart(&self, token: &str, session: Uuid) -> Result<Cart, CallError> {
        self.cart
            .request(Method::POST, "/v1/cart/merge")
            .for_user(token)
            .json(&json!({ "session_id": session }))
            .send()
            .await
    }

    pub(crate) async fn register(
        &self,
        registration: &Registration,
    ) -> Result<UserProfile, CallError> {
        self.users
            .request(Method::POST, "/v1/users")
            .json(registration)
            .send()
            .await
    }

    /// Logs in for a client at `client`, which users' login limits count.
    pub(crate) async fn login(&self, login: &Login, client: IpAddr) -> Result<Session, CallError> {
        self.users
            .request(Method::POST, "/v1/sessions")
            .header("x-forwarded-for", client.to_string())
            .json(login)
            .send()
            .await
    }

    pub(crate) async fn me(&self, token: &str) -> Result<UserProfile, CallError> {
        self.users.get("/v1/users/me").for_user(token).send().await
    }

    pub(crate) async fn rename(&self, token: &str, name: &str) -> Result<UserProfile, CallError> {
        self.users
            .request(Method::PATCH, "/v1/users/me")
            .for_user(token)
            .json(&json!({ "name": name }))
            .send()
            .await
    }

    pub(crate) async fn addresses(&self, token: &str) -> Result<Vec<Address>, CallError> {
        self.users
            .get("/v1/users/me/addresses")
            .for_user(token)
            .send()
            .await
    }

    pub(crate) async fn add_address(
        &self,
        token: &str,
        address: &AddressInput,
    ) -> Result<Address, CallError> {
        self.users
            .request(Method::POST, "/v1/users/me/addresses")
            .for_user(token)
            .json(address)
            .send()
            .await
    }

    pub(crate) async fn delete_address(&self, token: &str, id: Uuid) -> Result<(), CallError> {
        let path = format!("/v1/users/me/addresses/{id}");
        self.users
            .request(Method::DELETE, &path)
            .for_user(token)
            .send_without_answer()
            .await
    }

    /// Cities whose name starts with `q`, the largest first.
    pub(crate) async fn cities(&self, q: &str, limit: u32) -> Result<Vec<City>, CallError> {
        self.shipping
            .get("/v1/cities")
            .query("q", q)
            .query("limit", limit.to_string())
            .send()
            .await
    }

    pub(crate) async fn quote(&self, city_id: &str, weight_grams: i64) -> Result<Quote, CallError> {
        self.shipping
            .request(Method::POST, "/v1/quotes")
            .json(&json!({ "city_id": city_id, "weight_grams": weight_grams.clamp(1, 50_000) }))
            .send()
            .await
    }

    /// The shipping weight of a cart, from catalog.
    pub(crate) async fn weight_grams(&self, cart: &Cart) -> Result<i64, CallError> {
        let products =
            futures::future::join_all(cart.lines.iter().map(|line| self.product(&line.sku))).await;
        let mut total = 0;
        for (line, product) in cart.lines.iter().zip(products) {
            total += product?.weight_grams * i64::from(line.quantity);
        }
        Ok(total)
    }

    pub(crate) async fn orders(
        &self,
        token: &str,
        page: u32,
    ) -> Result<Page<OrderSummary>, CallError> {
        self.orders
            .get("/v1/orders")
            .for_user(token)
            .query("page", page.to_string())
            .query("per_page", "20")
            .send()
            .await
    }

    pub(crate) async fn order(&self, token: &str, id: Uuid) -> Result<Order, CallError> {
        let path = format!("/v1/orders/{id}");
        self.orders.get(&path).for_user(token).send().await
    }

    pub(crate) async fn invoice(&self, token: &str, id: Uuid) -> Result<Bytes, CallError> {
        let path = format!("/v1/orders/{id}/invoice");
        self.orders.get(&path).for_user(token).send_bytes().await
    }

    /// Starts (or, with the same key, asks again about) a checkout, which
    /// runs the whole saga while the customer waits, at most the checkout
    /// timeout.
    pub(crate) async fn checkout(
        &self,
        token: &str,
        key: &str,
        request: &CheckoutRequest,
    ) -> Result<Checkout, CallError> {
        self.payments
            .request(Method::POST, "/v1/checkouts")
            .for_user(token)
            .header("idempotency-key", key)
            .json(request)
            .within(self.checkout_timeout)
            .send()
            .await
    }

    /// The user's checkout sent with `key`, if payments has one.
    pub(crate) async fn checkout_by_key(
        &self,
        token: &str,
        key: &str,
    ) -> Result<Option<Checkout>, CallError> {
        let found = self
            .payments
            .get("/v1/checkouts")
            .query("idempotency_key", key)
            .for_user(token)
            .send()
            .await;
        match found {
            Ok(checkout) => Ok(Some(checkout)),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn checkout_status(
        &self,
        token: &str,
        id: Uuid,
    ) -> Result<Checkout, CallError> {
        let path = format!("/v1/checkouts/{id}");
        self.payments.get(&path).for_user(token).send().await
    }
}

fn as_owner<'a>(
    call: eshop_platform::client::Call<'a>,
    owner: &'a CartOwner,
) -> eshop_platform::client::Call<'a> {
    match owner {
        CartOwner::User(token) => call.for_user(token),
        CartOwner::Anonymous(session) => call.header(SESSION_HEADER, session.to_string()),
    }
}

/// `/readyz` check: a service answers its `/healthz`.
struct Reachable {
    name: &'static str,
    client: ServiceClient,
    reachable: Gauge,
}

#[async_trait]
impl Readiness for Reachable {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn check(&self) -> Result<(), String> {
        let probed = self.client.get("/healthz").probe().await;
        self.reachable.set(i64::from(probed.is_ok()));
        probed.map_err(|error| error.to_string())
    }

    fn required(&self) -> bool {
        false
    }
}
