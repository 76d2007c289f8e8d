//! `eshop up`: the whole shop on one machine with one command.
//!
//! Every service runs in this process on its own loopback port, the
//! gateway on the port asked for. By default everything lives in a data
//! directory (SQLite files, including the event bus, and the shop's keys),
//! so nothing else needs installing and the shop keeps its data across
//! restarts; the demo catalog is loaded on the first start. Given a
//! PostgreSQL and a Redis URL it runs on those instead.

use std::{
    fs,
    io::Write,
    net::{IpAddr, Ipv4Addr},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use eshop_platform::keys::{KeyPair, random_secret};
use secrecy::{ExposeSecret, SecretString};

use crate::shop::{JwtKeys, Shop, ShopConfig, Stores};

/// Where `eshop up` keeps its data unless told otherwise.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("eshop")
}

/// What `eshop up` was asked for.
#[derive(Debug, Clone)]
pub struct Up {
    pub data_dir: PathBuf,
    /// PostgreSQL and Redis instead of SQLite, when both are given.
    pub servers: Option<(SecretString, SecretString)>,
    /// The gateway's port on 127.0.0.1.
    pub port: u16,
    /// How long a paid order waits before it is dispatched.
    pub dispatch_delay: Duration,
    /// How long a dispatched order travels before it is delivered.
    pub delivery_delay: Duration,
}

/// Reads a file of the data directory, or creates it with `make` first,
/// readable by its owner only: it holds a secret.
fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(existing) = fs::read_to_string(path) {
        return Ok(existing);
    }
    let made = make();
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(made.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(made)
}

/// The shop's keys, made on the first start and kept in the data directory,
/// so sessions survive a restart.
fn keys(data_dir: &Path) -> anyhow::Result<(SecretString, JwtKeys)> {
    let dir = data_dir.join("keys");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let private_pem = load_or_create(&dir.join("jwt-private.pem"), || {
        KeyPair::generate().private_pem.expose_secret().to_owned()
    })?;
    let pair = KeyPair::from_private_pem(&private_pem)
        .context("the JWT key in the data directory does not load")?;
    let token = load_or_create(&dir.join("internal-token"), random_secret)?;
    Ok((
        SecretString::from(token.trim().to_owned()),
        JwtKeys {
            private_pem: pair.private_pem,
            public_pem: pair.public_pem,
        },
    ))
}

impl Up {
    /// The shop this command describes.
    pub fn config(&self) -> anyhow::Result<ShopConfig> {
        fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        let (internal_token, keys) = keys(&self.data_dir)?;
        let stores = match &self.servers {
            Some((database_url, redis_url)) => Stores::Server {
                database_url: database_url.clone(),
                redis_url: redis_url.clone(),
                redis_prefix: "eshop:".to_owned(),
            },
            None => Stores::Embedded {
                data_dir: self.data_dir.join("data"),
            },
        };
        Ok(ShopConfig {
            stores,
            internal_token,
            keys,
            demo_data: true,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            gateway_port: self.port,
            log: "warn".to_owned(),
            dispatch_delay: self.dispatch_delay,
            delivery_delay: self.delivery_delay,
            checkout_lease: Duration::from_secs(15),
            checkout_deadline: Duration::from_secs(120),
        })
    }

    /// Runs the shop until Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        let config = self.config()?;
        let started = Instant::now();
        let shop = Shop::start(&config, &[]).await.with_context(|| {
            format!(
                "starting the shop (if port {} is taken, choose another with --port)",
                self.port
            )
        })?;
        wait_until_ready(&shop).await?;
        let url = shop.url("gateway");
        println!(
            "eShop is up at {url} (started in {:.1}s)",
            started.elapsed().as_secs_f64()
        );
        match &self.servers {
            Some(_) => println!("data: PostgreSQL and Redis"),
            None => println!("data: {}", self.data_dir.display()),
        }
        println!("Ctrl-C stops it.");
        eshop_platform::shutdown::signal().await;
        shop.stop().await;
        println!("eShop stopped.");
        Ok(())
    }
}

/// How long the services may take to be ready: the first start loads the
/// demo catalog.
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// Waits until every service answers `/readyz` with 200, so the URL printed
/// serves a whole shop.
async fn wait_until_ready(shop: &Shop) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + READY_PATIENCE;
    for (service, address) in shop.addresses() {
        let url = format!("http://{address}/readyz");
        loop {
            let ready = client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{service} is not ready after {READY_PATIENCE:?}; its {url} says why"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
