//! The whole shop in one process: every service built from one description
//! of where the data lives ([`ShopConfig`]), each on its own loopback port
//! and told where the others are. `eshop up` runs it; so do the end-to-end
//! tests, which may leave a service out to run it as a separate process.
//!
//! Services are built in the order of their dependencies (catalog before
//! cart, everything before payments), so each one's address is known when
//! a later one needs it.

use std::{
    collections::BTreeMap, io, net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration,
};

use eshop_platform::{
    server::{Application, BuildError},
    settings::{KeyValueStore, Rate, ServerSettings, ServiceUrl, SqlStore},
};
use secrecy::SecretString;
use tokio::{sync::watch, task::JoinSet};

/// Every service of the shop, in the order they start; the gateway, the
/// shop's public entry point, last.
pub const SERVICES: [&str; 10] = [
    "catalog", "users", "cart", "ratings", "wallet", "shipping", "orders", "dispatch", "payments",
    "gateway",
];

/// Where the shop keeps its data.
#[derive(Debug, Clone)]
pub enum Stores {
    /// One PostgreSQL database (a schema per service) and one Redis.
    Server {
        database_url: SecretString,
        redis_url: SecretString,
        redis_prefix: String,
    },
    /// SQLite files in one directory, including the event bus.
    Embedded { data_dir: PathBuf },
}

/// The Ed25519 key pair of users' tokens.
#[derive(Debug, Clone)]
pub struct JwtKeys {
    pub private_pem: SecretString,
    pub public_pem: String,
}

/// Everything that differs from one shop to another.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    pub stores: Stores,
    pub internal_token: SecretString,
    pub keys: JwtKeys,
    pub demo_data: bool,
    /// The address the services bind (but the gateway); their ports are
    /// picked free.
    pub host: std::net::IpAddr,
    /// Where the gateway listens, the address people open; port 0 picks a
    /// free one.
    pub gateway: SocketAddr,
    pub log: String,
    pub dispatch_delay: Duration,
    pub delivery_delay: Duration,
    pub checkout_lease: Duration,
    pub checkout_deadline: Duration,
    /// How long finished records are kept before they are pruned.
    pub retention: Duration,
}

impl ShopConfig {
    /// Server settings for one service, on a free port of `host`.
    pub fn server(&self) -> ServerSettings {
        ServerSettings {
            listen: SocketAddr::new(self.host, 0),
            admin_listen: SocketAddr::new(self.host, 0),
            log: self.log.clone(),
            request_timeout: Duration::from_secs(10),
            internal_token: self.internal_token.clone(),
            fault_latency: Duration::ZERO,
        }
    }

    pub fn sql_store(&self) -> SqlStore {
        match &self.stores {
            Stores::Server { database_url, .. } => SqlStore::Postgres {
                url: database_url.clone(),
            },
            Stores::Embedded { data_dir } => SqlStore::Sqlite {
                data_dir: data_dir.clone(),
            },
        }
    }

    /// The key-value store, which also carries the event bus.
    pub fn key_value_store(&self) -> KeyValueStore {
        match &self.stores {
            Stores::Server {
                redis_url,
                redis_prefix,
                ..
            } => KeyValueStore::Redis {
                url: redis_url.clone(),
                key_prefix: redis_prefix.clone(),
            },
            Stores::Embedded { data_dir } => KeyValueStore::Sqlite {
                data_dir: data_dir.clone(),
            },
        }
    }

    /// Dispatch's settings.
    pub fn dispatch(&self) -> eshop_dispatch::DispatchSettings {
        eshop_dispatch::DispatchSettings {
            server: self.server(),
            store: self.key_value_store(),
            dispatch_delay: self.dispatch_delay,
            delivery_delay: self.delivery_delay,
            redeliver_after: Duration::from_secs(10),
            fault_error_rate: Rate::ZERO,
            retention: self.retention,
        }
    }

    /// Payments' settings, given where the other services are.
    pub fn payments(&self, shop: &Shop) -> eshop_payments::PaymentsSettings {
        eshop_payments::PaymentsSettings {
            server: self.server(),
            store: self.sql_store(),
            bus: self.key_value_store(),
            retention: self.retention,
            jwt_public_key: self.keys.public_pem.clone(),
            downstream: eshop_payments::settings::Downstream {
                users: shop.url("users"),
                cart: shop.url("cart"),
                catalog: shop.url("catalog"),
                shipping: shop.url("shipping"),
                wallet: shop.url("wallet"),
                orders: shop.url("orders"),
            },
            lease: self.checkout_lease,
            deadline: self.checkout_deadline,
            fault_error_rate: Rate::ZERO,
            fault_pause_at: None,
        }
    }

    /// The gateway's settings, given where the other services are.
    pub fn gateway(&self, shop: &Shop) -> eshop_gateway::GatewaySettings {
        eshop_gateway::GatewaySettings {
            server: ServerSettings {
                listen: self.gateway,
                ..self.server()
            },
            jwt_public_key: self.keys.public_pem.clone(),
            downstream: eshop_gateway::settings::Downstream {
                users: shop.url("users"),
                catalog: shop.url("catalog"),
                cart: shop.url("cart"),
                ratings: shop.url("ratings"),
                wallet: shop.url("wallet"),
                shipping: shop.url("shipping"),
                orders: shop.url("orders"),
                payments: shop.url("payments"),
            },
            rate_limit: eshop_gateway::settings::RateLimit {
                per_second: NonZeroU32::new(50).expect("not zero"),
                burst: NonZeroU32::new(200).expect("not zero"),
            },
            cookie_secure: false,
            trust_forwarded_for: false,
            checkout_timeout: Duration::from_secs(8),
        }
    }
}

/// A running shop. Dropping it stops every service.
#[derive(Debug)]
pub struct Shop {
    addresses: BTreeMap<&'static str, SocketAddr>,
    admin_addresses: BTreeMap<&'static str, SocketAddr>,
    stop: watch::Sender<bool>,
    running: JoinSet<io::Result<()>>,
}

impl Shop {
    /// Starts every service except those in `left_out` (which a test may
    /// run as processes of their own).
    pub async fn start(config: &ShopConfig, left_out: &[&str]) -> Result<Self, BuildError> {
        let mut shop = Self {
            addresses: BTreeMap::new(),
            admin_addresses: BTreeMap::new(),
            stop: watch::channel(false).0,
            running: JoinSet::new(),
        };
        let wanted = |service: &str| !left_out.contains(&service);
        let server = || config.server();
        if wanted("catalog") {
            let catalog = eshop_catalog::build(eshop_catalog::CatalogSettings {
                server: server(),
                store: config.sql_store(),
                demo_data: config.demo_data,
                reservation_ttl: Duration::from_secs(15 * 60),
            });
            shop.run("catalog", catalog.await?)?;
        }
        if wanted("users") {
            let users = eshop_users::build(eshop_users::UsersSettings {
                server: server(),
                store: config.sql_store(),
                jwt_private_key: config.keys.private_pem.clone(),
                jwt_ttl: Duration::from_secs(24 * 3600),
                login_window: Duration::from_secs(15 * 60),
            });
            shop.run("users", users.await?)?;
        }
        if wanted("cart") {
            let cart = eshop_cart::build(eshop_cart::CartSettings {
                server: server(),
                store: config.key_value_store(),
                jwt_public_key: config.keys.public_pem.clone(),
                catalog_url: shop.url("catalog"),
                cart_ttl: Duration::from_secs(7 * 24 * 3600),
            });
            shop.run("cart", cart.await?)?;
        }
        if wanted("ratings") {
            let ratings = eshop_ratings::build(eshop_ratings::RatingsSettings {
                server: server(),
                store: config.key_value_store(),
                jwt_public_key: config.keys.public_pem.clone(),
                catalog_url: shop.url("catalog"),
            });
            shop.run("ratings", ratings.await?)?;
        }
        if wanted("wallet") {
            let wallet = eshop_wallet::build(eshop_wallet::WalletSettings {
                server: server(),
                store: config.sql_store(),
                jwt_public_key: config.keys.public_pem.clone(),
            });
            shop.run("wallet", wallet.await?)?;
        }
        if wanted("shipping") {
            let shipping = eshop_shipping::build(eshop_shipping::ShippingSettings {
                server: server(),
                store: config.sql_store(),
                warehouse: "51.92,4.48"
                    .parse()
                    .expect("Rotterdam's coordinates are valid"),
                quote_ttl: Duration::from_secs(30 * 60),
                retention: config.retention,
            });
            shop.run("shipping", shipping.await?)?;
        }
        if wanted("orders") {
            let orders = eshop_orders::build(eshop_orders::OrdersSettings {
                server: server(),
                store: config.sql_store(),
                jwt_public_key: config.keys.public_pem.clone(),
                bus: config.key_value_store(),
                retention: config.retention,
            });
            shop.run("orders", orders.await?)?;
        }
        if wanted("dispatch") {
            let dispatch = eshop_dispatch::build(config.dispatch());
            shop.run("dispatch", dispatch.await?)?;
        }
        if wanted("payments") {
            let payments = eshop_payments::build(config.payments(&shop));
            shop.run("payments", payments.await?)?;
        }
        // The gateway starts only with every service it calls in this
        // process; a test that runs one of them elsewhere leaves it out.
        let calls_all = SERVICES[..SERVICES.len() - 1]
            .iter()
            .filter(|service| **service != "dispatch")
            .all(|service| shop.addresses.contains_key(service));
        if wanted("gateway") && calls_all {
            let gateway = eshop_gateway::build(config.gateway(&shop));
            shop.run("gateway", gateway.await?)?;
        }
        Ok(shop)
    }

    fn run(&mut self, service: &'static str, application: Application) -> Result<(), BuildError> {
        let address = application
            .address()
            .map_err(|source| BuildError::io("reading a bound address", source))?;
        let admin = application
            .admin_address()
            .map_err(|source| BuildError::io("reading a bound address", source))?;
        self.addresses.insert(service, address);
        self.admin_addresses.insert(service, admin);
        let mut stop = self.stop.subscribe();
        self.running
            .spawn(application.run_until_stopped(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            }));
        Ok(())
    }

    /// Records a service that runs elsewhere, so others can be told where.
    pub fn add_elsewhere(&mut self, service: &'static str, address: SocketAddr) {
        self.addresses.insert(service, address);
    }

    /// The base URL of `service`.
    ///
    /// # Panics
    /// When the shop has no such service.
    pub fn url(&self, service: &str) -> ServiceUrl {
        let address = self
            .addresses
            .get(service)
            .unwrap_or_else(|| panic!("the shop runs no {service}"));
        format!("http://{address}")
            .parse()
            .expect("a socket address makes a valid URL")
    }

    /// Every service and where it listens.
    pub fn addresses(&self) -> &BTreeMap<&'static str, SocketAddr> {
        &self.addresses
    }

    /// Where each service this shop runs serves its probes and metrics.
    pub fn admin_addresses(&self) -> &BTreeMap<&'static str, SocketAddr> {
        &self.admin_addresses
    }

    /// Stops every service and waits until they have finished.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.running.join_next().await.is_some() {}
    }
}
