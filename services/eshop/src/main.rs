//! `eshop`: the one binary of the shop, shipped in the one image.
//!
//! `eshop up` runs the whole shop on one machine. `eshop serve <service>`
//! runs one service, which is what each pod runs; it reads its settings
//! from environment variables, listed by `eshop serve <service> --help`.
//! `eshop openapi <service>` prints a service's OpenAPI document.

use std::{future::Future, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use eshop::up::{Up, default_data_dir};
use eshop_platform::{
    server::{Application, BuildError},
    settings::{Env, ServiceSettings, env_help},
    shutdown, telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "eshop",
    version,
    about = "The eShop: a demo shop of Rust services"
)]
enum Command {
    /// Run the whole shop on this machine: every service and the gateway,
    /// each on its own loopback port, until Ctrl-C. Data lives in SQLite
    /// files of the data directory unless PostgreSQL and Redis are given.
    Up(UpArgs),
    /// Run one service until SIGTERM or Ctrl-C. Settings come from
    /// environment variables; `eshop serve <service> --help` lists them.
    #[command(subcommand)]
    Serve(Service),
    /// Print a service's OpenAPI document (JSON).
    Openapi {
        #[command(subcommand)]
        service: Service,
    },
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Where the shop keeps its data and keys [default: ~/.local/share/eshop]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address the storefront listens on: 0.0.0.0 (or ::) to be
    /// reached from other machines. The other services stay on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The port of the storefront.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Which log lines to write to stderr (JSON, as `eshop serve` writes
    /// them), e.g. `info` or `warn,eshop_gateway=debug`.
    #[arg(long, default_value = "warn")]
    log: String,
    /// Run on this PostgreSQL database instead of SQLite files.
    #[arg(long, value_name = "URL", requires = "redis_url")]
    database_url: Option<String>,
    /// Run on this Redis instead of SQLite files.
    #[arg(long, value_name = "URL", requires = "database_url")]
    redis_url: Option<String>,
    /// How long a paid order waits before it is dispatched.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    dispatch_delay: Duration,
    /// How long a dispatched order travels before it is delivered.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    delivery_delay: Duration,
    /// How long finished records are kept before they are pruned: bus
    /// messages every consumer has acknowledged, published outbox rows,
    /// ids of handled events, expired quotes.
    #[arg(long, value_name = "DURATION", default_value = "7days", value_parser = humantime::parse_duration)]
    retention: Duration,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Service {
    /// Registration, login (argon2id, JWTs), profiles and addresses (PostgreSQL).
    #[command(after_long_help = env_help::<eshop_users::UsersSettings>())]
    Users,
    /// Categories, products, search, images and stock reservations (PostgreSQL).
    #[command(after_long_help = env_help::<eshop_catalog::CatalogSettings>())]
    Catalog,
    /// Carts of users and anonymous visitors, merged at login, expiring when idle (Redis).
    #[command(after_long_help = env_help::<eshop_cart::CartSettings>())]
    Cart,
    /// Stars and reviews per product, with averages in O(1) (Redis).
    #[command(after_long_help = env_help::<eshop_ratings::RatingsSettings>())]
    Ratings,
    /// The simulated bank: balances, top-ups, charges, refunds, test cards (PostgreSQL).
    #[command(after_long_help = env_help::<eshop_wallet::WalletSettings>())]
    Wallet,
    /// Cities to ship to, quotes by distance and weight (PostgreSQL).
    #[command(after_long_help = env_help::<eshop_shipping::ShippingSettings>())]
    Shipping,
    /// Orders, their lifecycle, history and invoices (PostgreSQL, event bus).
    #[command(after_long_help = env_help::<eshop_orders::OrdersSettings>())]
    Orders,
    /// Checkout: the saga across the other services (PostgreSQL, event bus).
    #[command(after_long_help = env_help::<eshop_payments::PaymentsSettings>())]
    Payments,
    /// Ships paid orders and reports dispatch and delivery (Redis, event bus).
    #[command(after_long_help = env_help::<eshop_dispatch::DispatchSettings>())]
    Dispatch,
    /// The public entry point: the web storefront and the JSON API under /api.
    #[command(after_long_help = env_help::<eshop_gateway::GatewaySettings>())]
    Gateway,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Command::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eshop: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => {
            Up {
                data_dir: args.data_dir.unwrap_or_else(default_data_dir),
                servers: args
                    .database_url
                    .zip(args.redis_url)
                    .map(|(database, redis)| (database.into(), redis.into())),
                host: args.host,
                port: args.port,
                log: args.log,
                dispatch_delay: args.dispatch_delay,
                delivery_delay: args.delivery_delay,
                retention: args.retention,
            }
            .run()
            .await
        }
        Command::Serve(service) => match service {
            Service::Users => serve(eshop_users::build).await,
            Service::Catalog => serve(eshop_catalog::build).await,
            Service::Cart => serve(eshop_cart::build).await,
            Service::Ratings => serve(eshop_ratings::build).await,
            Service::Wallet => serve(eshop_wallet::build).await,
            Service::Shipping => serve(eshop_shipping::build).await,
            Service::Orders => serve(eshop_orders::build).await,
            Service::Payments => serve(eshop_payments::build).await,
            Service::Dispatch => serve(eshop_dispatch::build).await,
            Service::Gateway => serve(eshop_gateway::build).await,
        },
        Command::Openapi { service } => {
            let document = match service {
                Service::Users => eshop_users::openapi(),
                Service::Catalog => eshop_catalog::openapi(),
                Service::Cart => eshop_cart::openapi(),
                Service::Ratings => eshop_ratings::openapi(),
                Service::Wallet => eshop_wallet::openapi(),
                Service::Shipping => eshop_shipping::openapi(),
                Service::Orders => eshop_orders::openapi(),
                Service::Payments => eshop_payments::openapi(),
                Service::Dispatch => eshop_dispatch::openapi(),
                Service::Gateway => eshop_gateway::openapi(),
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
    }
}

/// Loads `S` from the environment, builds the service and runs it.
async fn serve<S, F, Fut>(build: F) -> anyhow::Result<()>
where
    S: ServiceSettings,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = Result<Application, BuildError>>,
{
    let settings = S::load(&Env::from_process()).context("invalid settings")?;
    telemetry::init(&settings.server().log, telemetry::LogOutput::Stdout);
    let application = build(settings).await.context("cannot start")?;
    application.run_until_stopped(shutdown::signal()).await?;
    Ok(())
}
