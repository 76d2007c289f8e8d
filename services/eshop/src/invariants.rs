//! What must hold across the shop's stores whenever it is quiet, read
//! through the services' own (internal) endpoints:
//!
//! - no product's stock is below zero;
//! - money is conserved: everything charged minus everything refunded equals
//!   what the orders that keep their money cost (paid, dispatched,
//!   delivered), and every wallet's balance is its top-ups minus its
//!   charges plus its refunds;
//! - no checkout made two orders;
//! - nothing is stuck: no checkout is unfinished, and no order pending,
//!   longer than a bound.
//!
//! Events and compensations take a moment to land, so [`settle`] checks
//! again until everything holds or time runs out.

use std::time::{Duration, Instant};

use eshop_platform::{auth::INTERNAL_TOKEN_HEADER, settings::ServiceUrl};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};

/// Where to read, and how long "stuck" is.
#[derive(Debug, Clone)]
pub struct Scope {
    pub catalog: ServiceUrl,
    pub wallet: ServiceUrl,
    pub orders: ServiceUrl,
    pub payments: ServiceUrl,
    pub internal_token: SecretString,
    pub stuck_after: Duration,
}

/// The figures the invariants are about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub lowest_stock: i64,
    pub total_stock: i64,
    pub charged_cents: i64,
    pub refunded_cents: i64,
    pub paid_orders_cents: i64,
    pub orders: i64,
    pub duplicate_checkouts: i64,
    pub completed_checkouts: i64,
    pub failed_checkouts: i64,
    pub unfinished_checkouts: i64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stock: {} units, lowest {}; charged {} - refunded {} = {} cents; paid orders {} cents; \
             orders {}; checkouts: {} completed, {} failed, {} unfinished",
            self.total_stock,
            self.lowest_stock,
            self.charged_cents,
            self.refunded_cents,
            self.charged_cents - self.refunded_cents,
            self.paid_orders_cents,
            self.orders,
            self.completed_checkouts,
            self.failed_checkouts,
            self.unfinished_checkouts,
        )
    }
}

/// What does not hold, or why it could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct Violations(pub Vec<String>);

#[derive(Debug, Deserialize)]
struct ProductsPage {
    items: Vec<Product>,
    total: i64,
}

#[derive(Debug, Deserialize)]
struct Product {
    stock: i64,
}

#[derive(Debug, Deserialize)]
struct Ledger {
    balances_cents: i64,
    top_ups_cents: i64,
    charged_cents: i64,
    refunded_cents: i64,
    card_charged_cents: i64,
    card_refunded_cents: i64,
    unbalanced_accounts: i64,
}

#[derive(Debug, Deserialize)]
struct OrdersSummary {
    orders_by_status: std::collections::BTreeMap<String, i64>,
    paid_total_cents: i64,
    duplicate_checkouts: i64,
    oldest_pending_seconds: i64,
}

#[derive(Debug, Deserialize)]
struct CheckoutsSummary {
    running: i64,
    compensating: i64,
    completed: i64,
    failed: i64,
    oldest_unfinished_seconds: i64,
}

async fn read<T: DeserializeOwned>(
    http: &reqwest::Client,
    scope: &Scope,
    base: &ServiceUrl,
    path: &str,
) -> Result<T, String> {
    let response = http
        .get(format!("{base}{path}"))
        .header(INTERNAL_TOKEN_HEADER, scope.internal_token.expose_secret())
        .send()
        .await
        .map_err(|error| format!("reading {path}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("reading {path}: {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|error| format!("reading {path}: {error}"))
}

/// Reads the figures and checks every invariant once.
pub async fn check(scope: &Scope) -> Result<Figures, Violations> {
    let http = reqwest::Client::new();
    let mut figures = Figures {
        lowest_stock: i64::MAX,
        ..Figures::default()
    };
    let mut violations = Vec::new();

    let mut page = 1;
    loop {
        let products: ProductsPage = read(
            &http,
            scope,
            &scope.catalog,
            &format!("/v1/products?per_page=100&page={page}"),
        )
        .await
        .map_err(|error| Violations(vec![error]))?;
        for product in &products.items {
            figures.lowest_stock = figures.lowest_stock.min(product.stock);
            figures.total_stock += product.stock;
        }
        if i64::from(page) * 100 >= products.total {
            break;
        }
        page += 1;
    }
    if figures.lowest_stock < 0 {
        violations.push(format!("a product's stock is {}", figures.lowest_stock));
    }

    let ledger: Ledger = read(&http, scope, &scope.wallet, "/internal/ledger")
        .await
        .map_err(|error| Violations(vec![error]))?;
    let orders: OrdersSummary = read(&http, scope, &scope.orders, "/internal/orders/summary")
        .await
        .map_err(|error| Violations(vec![error]))?;
    let checkouts: CheckoutsSummary =
        read(&http, scope, &scope.payments, "/internal/checkouts/summary")
            .await
            .map_err(|error| Violations(vec![error]))?;

    figures.charged_cents = ledger.charged_cents + ledger.card_charged_cents;
    figures.refunded_cents = ledger.refunded_cents + ledger.card_refunded_cents;
    figures.paid_orders_cents = orders.paid_total_cents;
    figures.orders = orders.orders_by_status.values().sum();
    figures.duplicate_checkouts = orders.duplicate_checkouts;
    figures.completed_checkouts = checkouts.completed;
    figures.failed_checkouts = checkouts.failed;
    figures.unfinished_checkouts = checkouts.running + checkouts.compensating;

    if figures.charged_cents - figures.refunded_cents != figures.paid_orders_cents {
        violations.push(format!(
            "money: charged {} - refunded {} != paid orders {}",
            figures.charged_cents, figures.refunded_cents, figures.paid_orders_cents
        ));
    }
    let expected_balances = ledger.top_ups_cents - ledger.charged_cents + ledger.refunded_cents;
    if ledger.balances_cents != expected_balances || ledger.unbalanced_accounts != 0 {
        violations.push(format!(
            "wallets: balances {} != top-ups {} - charges {} + refunds {} ({} unbalanced accounts)",
            ledger.balances_cents,
            ledger.top_ups_cents,
            ledger.charged_cents,
            ledger.refunded_cents,
            ledger.unbalanced_accounts
        ));
    }
    if orders.duplicate_checkouts != 0 {
        violations.push(format!(
            "{} checkouts made more than one order",
            orders.duplicate_checkouts
        ));
    }
    let bound = i64::try_from(scope.stuck_after.as_secs()).unwrap_or(i64::MAX);
    if checkouts.oldest_unfinished_seconds > bound {
        violations.push(format!(
            "a checkout has been unfinished for {} s",
            checkouts.oldest_unfinished_seconds
        ));
    }
    if orders.oldest_pending_seconds > bound {
        violations.push(format!(
            "an order has been pending for {} s",
            orders.oldest_pending_seconds
        ));
    }
    if violations.is_empty() {
        Ok(figures)
    } else {
        Err(Violations(violations))
    }
}

/// Checks until every invariant holds and no checkout is unfinished, for at
/// most `within`.
pub async fn settle(scope: &Scope, within: Duration) -> Result<Figures, Violations> {
    let deadline = Instant::now() + within;
    loop {
        let outcome = check(scope).await;
        let settled = matches!(&outcome, Ok(figures) if figures.unfinished_checkouts == 0);
        if settled || Instant::now() >= deadline {
            return match outcome {
                Ok(figures) if figures.unfinished_checkouts > 0 => Err(Violations(vec![format!(
                    "{} checkouts still unfinished after {within:?}",
                    figures.unfinished_checkouts
                )])),
                other => other,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
