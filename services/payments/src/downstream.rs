//! The services the saga calls: [`Downstream`] says what the saga needs
//! of them, and [`HttpDownstream`] calls them, each through a client with
//! timeouts, retries of idempotent calls and a circuit breaker. Every call
//! is safe to repeat: reservations, charges, refunds and orders are keyed
//! by the checkout, so a saga resumed after a crash never does anything
//! twice.
//!
//! Answers are read tolerantly: only the fields the saga needs.

use async_trait::async_trait;
use axum::http::Method;
use eshop_cart_api::CartClient;
use eshop_catalog_api::{CatalogClient, LineInput, ReservationInput};
use eshop_platform::{
    client::{CallError, ClientPolicy, ServiceClient},
    settings::ServiceUrl,
};
use eshop_shipping_api::{ConfirmInput, QuoteInput, ShippingClient};
use eshop_wallet_api::{ChargeInput, PaymentInput, PaymentMethod, RefundInput, WalletClient};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{Address, Checkout, Line, Payment, Shipping},
    settings::Downstream as Urls,
};

/// What the saga asks of the other services. Each call may fail with the
/// service's answer or with the service out of reach; the saga decides
/// which failures are final.
#[async_trait]
pub trait Downstream: Send + Sync {
    /// The user, as users knows them.
    async fn user(&self, user: Uuid) -> Result<UserSummary, CallError>;

    /// The lines of the user's cart, with their prices now.
    async fn cart(&self, user: Uuid) -> Result<Vec<Line>, CallError>;

    async fn clear_cart(&self, user: Uuid) -> Result<(), CallError>;

    /// Holds the lines' stock under the checkout's id (a repeat is a no-op).
    async fn reserve(&self, checkout: Uuid, lines: &[Line]) -> Result<(), CallError>;

    async fn commit_reservation(&self, checkout: Uuid) -> Result<(), CallError>;

    /// Puts the stock back; releasing twice, or what was never reserved, is fine.
    async fn release_reservation(&self, checkout: Uuid) -> Result<(), CallError>;

    /// The shipping weight of `lines`.
    async fn weight_grams(&self, lines: &[Line]) -> Result<i64, CallError>;

    /// Quotes shipping to the address and confirms the quote for the checkout.
    async fn ship(
        &self,
        checkout: Uuid,
        address: &Address,
        weight_grams: i64,
    ) -> Result<Shipping, CallError>;

    /// Charges the customer once per checkout, whatever the retries;
    /// answers the charge's id.
    async fn charge(
        &self,
        checkout: Uuid,
        user: Uuid,
        amount_cents: i64,
        payment: &Payment,
    ) -> Result<Uuid, CallError>;

    /// Refunds `amount_cents` of a charge, once per `reason`.
    async fn refund(&self, charge: Uuid, amount_cents: i64, reason: &str) -> Result<(), CallError>;

    /// Creates the order of a charged checkout; one checkout makes at most
    /// one order, so a repeat answers the first.
    async fn create_order(&self, checkout: &Checkout, charge: Uuid) -> Result<Uuid, CallError>;
}

/// The services over HTTP: a client for each.
#[derive(Debug, Clone)]
pub(crate) struct HttpDownstream {
    users: ServiceClient,
    cart: CartClient,
    catalog: CatalogClient,
    shipping: ShippingClient,
    wallet: WalletClient,
    orders: ServiceClient,
}

#[derive(Debug, Deserialize)]
pub struct UserSummary {
    pub email: String,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: Uuid,
}

impl HttpDownstream {
    pub(crate) fn new(urls: &Urls, internal_token: &SecretString) -> Self {
        let client = |service, url: &ServiceUrl| {
            ServiceClient::new(
                service,
                url.as_str(),
                internal_token.clone(),
                ClientPolicy::default(),
            )
        };
        Self {
            users: client("users", &urls.users),
            cart: CartClient::new(client("cart", &urls.cart)),
            catalog: CatalogClient::new(client("catalog", &urls.catalog)),
            shipping: ShippingClient::new(client("shipping", &urls.shipping)),
            wallet: WalletClient::new(client("wallet", &urls.wallet)),
            orders: client("orders", &urls.orders),
        }
    }
}

#[async_trait]
impl Downstream for HttpDownstream {
    async fn user(&self, user: Uuid) -> Result<UserSummary, CallError> {
        self.users
            .get(&format!("/internal/users/{user}"))
            .send()
            .await
    }

    async fn cart(&self, user: Uuid) -> Result<Vec<Line>, CallError> {
        let cart = self.cart.user_cart(user).await?;
        Ok(cart
            .lines
            .into_iter()
            .map(|line| Line {
                sku: line.sku.as_str().to_owned(),
                name: line.name,
                quantity: i64::from(line.quantity),
                unit_price_cents: line.unit_price_cents,
            })
            .collect())
    }

    async fn clear_cart(&self, user: Uuid) -> Result<(), CallError> {
        self.cart.clear_user_cart(user).await
    }

    async fn reserve(&self, checkout: Uuid, lines: &[Line]) -> Result<(), CallError> {
        let lines = lines
            .iter()
            .map(|line| LineInput {
                sku: line.sku.clone(),
                quantity: u32::try_from(line.quantity).unwrap_or(u32::MAX),
            })
            .collect();
        self.catalog
            .reserve(checkout, &ReservationInput { lines })
            .await
            .map(drop)
    }

    async fn commit_reservation(&self, checkout: Uuid) -> Result<(), CallError> {
        self.catalog.commit(checkout).await.map(drop)
    }

    async fn release_reservation(&self, checkout: Uuid) -> Result<(), CallError> {
        self.catalog.release(checkout).await.map(drop)
    }

    async fn weight_grams(&self, lines: &[Line]) -> Result<i64, CallError> {
        let mut total = 0;
        for line in lines {
            let product = self.catalog.product(&line.sku).await?;
            total += product.weight_grams * line.quantity;
        }
        Ok(total)
    }

    async fn ship(
        &self,
        checkout: Uuid,
        address: &Address,
        weight_grams: i64,
    ) -> Result<Shipping, CallError> {
        let quote = self
            .shipping
            .quote(&QuoteInput {
                city_id: address.city_id.clone(),
                weight_grams: u32::try_from(weight_grams.max(1)).unwrap_or(u32::MAX),
            })
            .await?;
        self.shipping
            .confirm(
                quote.id,
                &ConfirmInput {
                    reference: checkout.to_string(),
                },
            )
            .await?;
        Ok(Shipping {
            quote_id: quote.id,
            cost_cents: quote.cost_cents,
            estimated_days: i64::from(quote.estimated_days),
            city: quote.city.name,
            country_code: quote.city.country_code.as_str().to_owned(),
        })
    }

    async fn charge(
        &self,
        checkout: Uuid,
        user: Uuid,
        amount_cents: i64,
        payment: &Payment,
    ) -> Result<Uuid, CallError> {
        let payment = match payment {
            Payment::Wallet => PaymentInput {
                method: PaymentMethod::Wallet,
                card_number: None,
            },
            Payment::Card { card_number } => PaymentInput {
                method: PaymentMethod::Card,
                card_number: Some(card_number.clone()),
            },
        };
        let charge = self
            .wallet
            .charge(&ChargeInput {
                idempotency_key: format!("checkout-{checkout}"),
                user_id: user,
                amount_cents,
                reference: checkout.to_string(),
                payment,
            })
            .await?;
        Ok(charge.charge_id)
    }

    async fn refund(&self, charge: Uuid, amount_cents: i64, reason: &str) -> Result<(), CallError> {
        self.wallet
            .refund(&RefundInput {
                idempotency_key: format!("{reason}-{charge}"),
                charge_id: charge,
                amount_cents,
            })
            .await
            .map(drop)
    }

    async fn create_order(&self, checkout: &Checkout, charge: Uuid) -> Result<Uuid, CallError> {
        let (address, progress) = (&checkout.request.address, &checkout.progress);
        let shipping = progress
            .shipping
            .as_ref()
            .expect("orders are created after shipping is quoted");
        let method = match checkout.request.payment {
            Payment::Wallet => "wallet",
            Payment::Card { .. } => "card",
        };
        let order: Order = self
            .orders
            .request(Method::POST, "/internal/orders")
            .json(&json!({
                "checkout_id": checkout.id,
                "user_id": checkout.user_id,
                "lines": progress.lines,
                "shipping": {
                    "name": address.name,
                    "line1": address.line1,
                    "line2": address.line2,
                    "city": shipping.city,
                    "postal_code": address.postal_code,
                    "country_code": shipping.country_code,
                    "city_id": address.city_id,
                    "quote_id": shipping.quote_id,
                    "cost_cents": shipping.cost_cents,
                    "estimated_days": shipping.estimated_days,
                },
                "payment": { "charge_id": charge, "method": method },
                "reservation_id": checkout.id,
            }))
            .send()
            .await?;
        Ok(order.id)
    }
}
