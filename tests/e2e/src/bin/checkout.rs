//! `checkout <base-url>`: one purchase through a running shop's public API,
//! as [`eshop_testbed::shopper`] makes it in the image tests. The kind end
//! to end run (`tests/e2e/kind-e2e`) points it at the shop's Ingress.
//!
//! It waits for the gateway to answer, registers a customer, tops up the
//! wallet, fills the cart and checks out, then waits for the order to be
//! paid. It prints the order and exits 0, or prints why and exits 1.

use std::{process::ExitCode, time::Duration};

use eshop_testbed::shopper;

/// How long the gateway may take to answer through a new Ingress.
const SHOP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the order may take to be paid.
const ORDER_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(base_url), None) = (args.next(), args.next()) else {
        eprintln!("usage: checkout <base-url>   e.g. checkout http://127.0.0.1:8080");
        return ExitCode::from(2);
    };
    match purchase(&base_url).await {
        Ok(purchase) => {
            println!(
                "checkout: order {} is {} ({} bought through {base_url})",
                purchase.order_id,
                purchase.status,
                shopper::SKU
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("checkout through {base_url} failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn purchase(base_url: &str) -> Result<shopper::Purchase, shopper::ShopperError> {
    shopper::wait_for_shop(base_url, SHOP_TIMEOUT).await?;
    shopper::buy_one(base_url, ORDER_TIMEOUT).await
}
