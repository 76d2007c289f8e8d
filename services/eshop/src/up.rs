//! `eshop up`: the whole shop on one machine with one command.
//!
//! Every service runs in this process on its own loopback port, the
//! gateway on the address asked for (loopback unless `--host` says
//! otherwise). By default everything lives in a data directory (SQLite
//! files, including the event bus, and the shop's keys), so nothing else
//! needs installing and the shop keeps its data across restarts; the demo
//! catalog is loaded on the first start. Given a PostgreSQL and a Redis URL
//! it runs on those instead.
//!
//! The data directory is the shop's alone: one `eshop up` at a time holds
//! its lock, and everything in it is readable by its owner only (it holds
//! users' password hashes and the shop's keys). Logs go to stderr as JSON
//! lines, as `eshop serve` writes them.

use std::{
    fs,
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use eshop_platform::{
    keys::{KeyPair, random_secret},
    telemetry::{self, LogOutput},
};
use nix::sys::stat::{Mode, umask};
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
    /// The address the gateway listens on.
    pub host: IpAddr,
    /// The gateway's port.
    pub port: u16,
    /// The log filter, e.g. `warn`.
    pub log: String,
    /// How long a paid order waits before it is dispatched.
    pub dispatch_delay: Duration,
    /// How long a dispatched order travels before it is delivered.
    pub delivery_delay: Duration,
    /// How long finished records are kept before they are pruned.
    pub retention: Duration,
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

/// The lock file that says a data directory is in use.
const LOCK_FILE: &str = "eshop.lock";

/// Holds the data directory for this process until dropped: its lock file,
/// locked, with the holder's pid in it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: fs::File,
}

/// Makes the data directory (readable by its owner only) and takes its
/// lock; another `eshop up` holding it is refused, naming the directory.
/// Files the shop creates from here on are readable by their owner only.
pub fn take_data_dir(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    umask(Mode::from_bits_truncate(0o077));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            anyhow::bail!(
                "another `eshop up` (pid {}) is using {}: stop it first, or give this one another --data-dir",
                holder.trim(),
                data_dir.display()
            );
        }
        Err(fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| write!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(DataDirLock { _file: file })
}

/// Whether `error` comes from an address already in use.
fn address_in_use(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::AddrInUse)
    })
}

impl Up {
    /// The shop this command describes; the data directory must be taken
    /// ([`take_data_dir`]).
    pub fn config(&self) -> anyhow::Result<ShopConfig> {
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
            gateway: SocketAddr::new(self.host, self.port),
            log: self.log.clone(),
            dispatch_delay: self.dispatch_delay,
            delivery_delay: self.delivery_delay,
            checkout_lease: Duration::from_secs(15),
            checkout_deadline: Duration::from_secs(120),
            retention: self.retention,
        })
    }

    /// Runs the shop until Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        telemetry::init(&self.log, LogOutput::Stderr);
        let _lock = take_data_dir(&self.data_dir)?;
        let config = self.config()?;
        let started = Instant::now();
        let shop = match Shop::start(&config, &[]).await {
            Ok(shop) => shop,
            Err(error) => {
                let error = anyhow::Error::new(error);
                if address_in_use(&error) {
                    anyhow::bail!(
                        "port {} of {} is taken: choose another with --port",
                        self.port,
                        self.host
                    );
                }
                return Err(error.context("starting the shop"));
            }
        };
        wait_until_ready(&shop).await?;
        let listening = shop.addresses()["gateway"];
        let local = match listening.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        println!(
            "eShop is up at http://{} (started in {:.1}s)",
            SocketAddr::new(local, listening.port()),
            started.elapsed().as_secs_f64()
        );
        println!(
            "metrics and probes: {}",
            shop.admin_addresses()
                .iter()
                .map(|(service, address)| format!("{service} http://{address}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !self.host.is_loopback() {
            println!("listening on {listening}: other machines reach it at this machine's address");
        }
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
    for (service, address) in shop.admin_addresses() {
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
