//! Typed settings, read from environment variables.
//!
//! Every service has one settings struct that implements [`Settings`]:
//! `load` reads it from an [`Env`] and fails with an error naming the missing
//! or bad variable; `render` turns it back into variables, which is how the
//! operator writes a Deployment's env; `vars` lists every variable with its
//! help for `eshop serve --help`. A service's struct is composed of the parts
//! defined here ([`ServerSettings`], [`SqlStore`], [`KeyValueStore`]) plus
//! its own variables.

use std::{collections::HashMap, fmt::Display, net::SocketAddr, path::PathBuf, str::FromStr};

use secrecy::{ExposeSecret, SecretString};

/// One environment variable a service reads.
#[derive(Debug, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub help: &'static str,
    /// Used when the variable is unset; `None` means it is required.
    pub default: Option<&'static str>,
    /// Holds a credential: never printed, and rendered from a Secret.
    pub secret: bool,
}

/// A variable and its value, as `render` produces them.
pub type Rendered = Vec<(&'static Var, String)>;

/// A service's settings, loaded from and rendered to environment variables.
pub trait Settings: Sized {
    /// Every variable, in the order `--help` lists them.
    fn vars() -> Vec<&'static Var>;

    /// Reads the settings, naming the first missing or bad variable.
    fn load(env: &Env) -> Result<Self, SettingsError>;

    /// The variables that `load` reads back into these settings.
    fn render(&self) -> Rendered;
}

/// The settings of a whole service, which always include how it serves.
pub trait ServiceSettings: Settings {
    fn server(&self) -> &ServerSettings;
}

/// The `--help` text listing a service's variables.
pub fn env_help<S: Settings>() -> String {
    let mut help = String::from("Environment variables:\n");
    for var in S::vars() {
        let default = match (var.default, var.secret) {
            (Some(default), _) => format!(" [default: {default}]"),
            (None, true) => " [required, secret]".to_owned(),
            (None, false) => " [required]".to_owned(),
        };
        help.push_str(&format!("  {}{default}\n      {}\n", var.name, var.help));
    }
    help
}

/// Why settings could not be loaded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} is not set: {help}")]
    Missing {
        name: &'static str,
        help: &'static str,
    },
    #[error("{name}={value} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        /// The value as given, or `(hidden)` for secrets.
        value: String,
        reason: String,
    },
}

/// A snapshot of environment variables to load settings from.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The variables of this process.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// Variables given as pairs, e.g. the output of [`Settings::render`].
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }

    /// Variables as `render` produced them.
    pub fn from_rendered(rendered: &Rendered) -> Self {
        Self::from_pairs(
            rendered
                .iter()
                .map(|(var, value)| (var.name, value.clone())),
        )
    }

    /// The variable's value parsed as `T`, its default when unset, or an
    /// error when it is unset and has no default.
    pub fn get<T>(&self, var: &'static Var) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let value = match (self.vars.get(var.name), var.default) {
            (Some(value), _) => value.as_str(),
            (None, Some(default)) => default,
            (None, None) => {
                return Err(SettingsError::Missing {
                    name: var.name,
                    help: var.help,
                });
            }
        };
        value
            .parse()
            .map_err(|error: T::Err| SettingsError::Invalid {
                name: var.name,
                value: if var.secret {
                    "(hidden)".to_owned()
                } else {
                    value.to_owned()
                },
                reason: error.to_string(),
            })
    }

    /// A secret variable, kept out of logs and debug output.
    pub fn secret(&self, var: &'static Var) -> Result<SecretString, SettingsError> {
        let value: String = self.get(var)?;
        if value.is_empty() {
            return Err(SettingsError::Invalid {
                name: var.name,
                value: "(hidden)".to_owned(),
                reason: "it is empty".to_owned(),
            });
        }
        Ok(SecretString::from(value))
    }
}

/// A duration written the human way: `500ms`, `10s`, `15m`, `7days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub std::time::Duration);

impl FromStr for HumanDuration {
    type Err = humantime::DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text).map(Self)
    }
}

impl Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

/// The base URL of another service: `http` or `https`, with a host and no
/// query, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServiceUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let uri: axum::http::Uri = text
            .parse()
            .map_err(|error| format!("not a URL: {error}"))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.host().is_none_or(str::is_empty) {
            return Err("expected an http:// or https:// URL with a host".to_owned());
        }
        if uri.query().is_some() {
            return Err("a base URL takes no query".to_owned());
        }
        Ok(Self(text.trim_end_matches('/').to_owned()))
    }
}

impl Display for ServiceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A share from 0 to 1, for fault knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

impl Rate {
    pub const ZERO: Self = Self(0.0);

    pub fn value(self) -> f64 {
        self.0
    }

    /// Draws: `true` with this probability.
    pub fn hits(self) -> bool {
        self.0 > 0.0 && fastrand::f64() < self.0
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(Self(rate)),
            _ => Err("expected a number from 0 to 1".to_owned()),
        }
    }
}

impl Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub static LISTEN: Var = Var {
    name: "ESHOP_LISTEN",
    help: "address and port to serve HTTP on",
    default: Some("0.0.0.0:8080"),
    secret: false,
};
pub static ADMIN_LISTEN: Var = Var {
    name: "ESHOP_ADMIN_LISTEN",
    help: "address and port to serve /healthz, /readyz and /metrics on, apart from the API so that nothing routes the public there",
    default: Some("0.0.0.0:9090"),
    secret: false,
};
pub static LOG: Var = Var {
    name: "ESHOP_LOG",
    help: "log filter, e.g. `info` or `info,eshop_catalog=debug`; logs are JSON lines on stdout",
    default: Some("info"),
    secret: false,
};
pub static REQUEST_TIMEOUT: Var = Var {
    name: "ESHOP_REQUEST_TIMEOUT",
    help: "longest time a request may take before it is answered 503",
    default: Some("10s"),
    secret: false,
};
/// How long what is finished is kept before it is pruned: bus messages
/// every group has acknowledged, published outbox rows, handled event ids,
/// expired quotes.
pub static RETENTION: Var = Var {
    name: "ESHOP_RETENTION",
    help: "how long finished records are kept before they are pruned: bus messages every consumer group has acknowledged, published outbox rows, ids of handled events, expired quotes",
    default: Some("7days"),
    secret: false,
};

pub static FAULT_LATENCY: Var = Var {
    name: "ESHOP_FAULT_LATENCY",
    help: "fault knob: latency added to every API answer, after the request is handled, e.g. `200ms`, to practise observability and timeouts (off: 0s)",
    default: Some("0s"),
    secret: false,
};

/// How a service serves HTTP, and the credential calls between services carry.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Where the probes and metrics are served.
    pub admin_listen: SocketAddr,
    pub log: String,
    pub request_timeout: std::time::Duration,
    pub internal_token: SecretString,
    /// Added to every API request; zero unless someone is practising.
    pub fault_latency: std::time::Duration,
}

impl Settings for ServerSettings {
    fn vars() -> Vec<&'static Var> {
        vec![
            &LISTEN,
            &ADMIN_LISTEN,
            &LOG,
            &REQUEST_TIMEOUT,
            &INTERNAL_TOKEN,
            &FAULT_LATENCY,
        ]
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            listen: env.get(&LISTEN)?,
            admin_listen: env.get(&ADMIN_LISTEN)?,
            log: env.get(&LOG)?,
            request_timeout: env.get::<HumanDuration>(&REQUEST_TIMEOUT)?.0,
            internal_token: env.secret(&INTERNAL_TOKEN)?,
            fault_latency: env.get::<HumanDuration>(&FAULT_LATENCY)?.0,
        })
    }

    fn render(&self) -> Rendered {
        vec![
            (&LISTEN, self.listen.to_string()),
            (&ADMIN_LISTEN, self.admin_listen.to_string()),
            (&LOG, self.log.clone()),
            (
                &REQUEST_TIMEOUT,
                HumanDuration(self.request_timeout).to_string(),
            ),
            (
                &INTERNAL_TOKEN,
                self.internal_token.expose_secret().to_owned(),
            ),
            (
                &FAULT_LATENCY,
                HumanDuration(self.fault_latency).to_string(),
            ),
        ]
    }
}

pub static INTERNAL_TOKEN: Var = Var {
    name: "ESHOP_INTERNAL_TOKEN",
    help: "credential that calls between services carry in `x-internal-token`",
    default: None,
    secret: true,
};
pub static JWT_PUBLIC_KEY: Var = Var {
    name: "ESHOP_JWT_PUBLIC_KEY",
    help: "PEM Ed25519 public key that verifies users' tokens (users signs them)",
    default: None,
    secret: false,
};

pub static BACKEND: Var = Var {
    name: "ESHOP_BACKEND",
    help: "`server` (PostgreSQL and Redis) or `embedded` (SQLite files in ESHOP_DATA_DIR, no servers)",
    default: Some("server"),
    secret: false,
};
pub static DATABASE_URL: Var = Var {
    name: "ESHOP_DATABASE_URL",
    help: "PostgreSQL URL, e.g. postgres://user:password@host:5432/eshop; the service keeps its tables in a schema named after it",
    default: None,
    secret: true,
};
pub static REDIS_URL: Var = Var {
    name: "ESHOP_REDIS_URL",
    help: "Redis URL, e.g. redis://:password@host:6379",
    default: None,
    secret: true,
};
pub static REDIS_KEY_PREFIX: Var = Var {
    name: "ESHOP_REDIS_KEY_PREFIX",
    help: "prefix of every Redis key the service writes, so several shops can share a server",
    default: Some("eshop:"),
    secret: false,
};
pub static DATA_DIR: Var = Var {
    name: "ESHOP_DATA_DIR",
    help: "directory of the embedded backend's SQLite files",
    default: None,
    secret: false,
};

/// A variable holding the base URL of another service; its default is the
/// service's name in the cluster.
macro_rules! service_url_var {
    ($name:ident, $env:literal, $service:literal) => {
        pub static $name: Var = Var {
            name: $env,
            help: concat!("base URL of the ", $service, " service"),
            default: Some(concat!("http://", $service, ":8080")),
            secret: false,
        };
    };
}

service_url_var!(USERS_URL, "ESHOP_USERS_URL", "users");
service_url_var!(CATALOG_URL, "ESHOP_CATALOG_URL", "catalog");
service_url_var!(CART_URL, "ESHOP_CART_URL", "cart");
service_url_var!(RATINGS_URL, "ESHOP_RATINGS_URL", "ratings");
service_url_var!(WALLET_URL, "ESHOP_WALLET_URL", "wallet");
service_url_var!(SHIPPING_URL, "ESHOP_SHIPPING_URL", "shipping");
service_url_var!(ORDERS_URL, "ESHOP_ORDERS_URL", "orders");
service_url_var!(PAYMENTS_URL, "ESHOP_PAYMENTS_URL", "payments");

/// Which backend a service stores its data on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Server,
    Embedded,
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "server" => Ok(Self::Server),
            "embedded" => Ok(Self::Embedded),
            _ => Err("expected `server` or `embedded`".to_owned()),
        }
    }
}

impl Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Server => "server",
            Self::Embedded => "embedded",
        })
    }
}

/// Where a service that keeps relational data stores it.
#[derive(Debug, Clone)]
pub enum SqlStore {
    Postgres { url: SecretString },
    Sqlite { data_dir: PathBuf },
}

impl Settings for SqlStore {
    fn vars() -> Vec<&'static Var> {
        vec![&BACKEND, &DATABASE_URL, &DATA_DIR]
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(match env.get(&BACKEND)? {
            Backend::Server => {
                let url = env.secret(&DATABASE_URL)?;
                check_url(&DATABASE_URL, &url, |url| {
                    sqlx::postgres::PgConnectOptions::from_str(url).map(drop)
                })?;
                Self::Postgres { url }
            }
            Backend::Embedded => Self::Sqlite {
                data_dir: env.get(&DATA_DIR)?,
            },
        })
    }

    fn render(&self) -> Rendered {
        match self {
            Self::Postgres { url } => vec![
                (&BACKEND, Backend::Server.to_string()),
                (&DATABASE_URL, url.expose_secret().to_owned()),
            ],
            Self::Sqlite { data_dir } => vec![
                (&BACKEND, Backend::Embedded.to_string()),
                (&DATA_DIR, data_dir.display().to_string()),
            ],
        }
    }
}

/// Where a service that keeps key-value data stores it.
#[derive(Debug, Clone)]
pub enum KeyValueStore {
    Redis {
        url: SecretString,
        key_prefix: String,
    },
    Sqlite {
        data_dir: PathBuf,
    },
}

impl Settings for KeyValueStore {
    fn vars() -> Vec<&'static Var> {
        vec![&BACKEND, &REDIS_URL, &REDIS_KEY_PREFIX, &DATA_DIR]
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(match env.get(&BACKEND)? {
            Backend::Server => {
                let url = env.secret(&REDIS_URL)?;
                check_url(&REDIS_URL, &url, |url| redis::Client::open(url).map(drop))?;
                Self::Redis {
                    url,
                    key_prefix: env.get(&REDIS_KEY_PREFIX)?,
                }
            }
            Backend::Embedded => Self::Sqlite {
                data_dir: env.get(&DATA_DIR)?,
            },
        })
    }

    fn render(&self) -> Rendered {
        match self {
            Self::Redis { url, key_prefix } => vec![
                (&BACKEND, Backend::Server.to_string()),
                (&REDIS_URL, url.expose_secret().to_owned()),
                (&REDIS_KEY_PREFIX, key_prefix.clone()),
            ],
            Self::Sqlite { data_dir } => vec![
                (&BACKEND, Backend::Embedded.to_string()),
                (&DATA_DIR, data_dir.display().to_string()),
            ],
        }
    }
}

/// The variables of several parts, each once: parts that share one (a
/// service with a SQL store and an event bus reads `ESHOP_BACKEND` for both)
/// list it where it first appears.
pub fn merge_vars(parts: impl IntoIterator<Item = Vec<&'static Var>>) -> Vec<&'static Var> {
    let mut merged: Vec<&'static Var> = Vec::new();
    for var in parts.into_iter().flatten() {
        if !merged.iter().any(|seen| seen.name == var.name) {
            merged.push(var);
        }
    }
    merged
}

/// The rendered variables of several parts, each once; parts that share a
/// variable render the same value for it.
pub fn merge_rendered(parts: impl IntoIterator<Item = Rendered>) -> Rendered {
    let mut merged: Rendered = Vec::new();
    for (var, value) in parts.into_iter().flatten() {
        if !merged.iter().any(|(seen, _)| seen.name == var.name) {
            merged.push((var, value));
        }
    }
    merged
}

/// Fails naming `var` when `parse` rejects the URL it holds.
fn check_url<E: Display>(
    var: &'static Var,
    url: &SecretString,
    parse: impl FnOnce(&str) -> Result<(), E>,
) -> Result<(), SettingsError> {
    parse(url.expose_secret()).map_err(|error| SettingsError::Invalid {
        name: var.name,
        value: "(hidden)".to_owned(),
        reason: error.to_string(),
    })
}

/// Checks that `render` and `load` agree for `settings`, and that `vars`
/// documents every variable `render` writes. Each service's tests call it.
///
/// # Panics
/// When they disagree, naming the variable.
pub fn assert_round_trip<S: Settings>(settings: &S) {
    let rendered = settings.render();
    let loaded = S::load(&Env::from_rendered(&rendered))
        .unwrap_or_else(|error| panic!("rendered settings do not load: {error}"));
    let again = loaded.render();
    let values = |rendered: &Rendered| -> Vec<(&str, String)> {
        rendered
            .iter()
            .map(|(var, value)| (var.name, value.clone()))
            .collect()
    };
    assert_eq!(values(&rendered), values(&again), "render → load → render");
    let documented = S::vars();
    for (var, _) in &rendered {
        assert!(
            documented.contains(var),
            "{} is rendered but not documented",
            var.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_required_variable_is_named() {
        let error = SqlStore::load(&Env::default()).unwrap_err();
        assert_eq!(
            error,
            SettingsError::Missing {
                name: "ESHOP_DATABASE_URL",
                help: DATABASE_URL.help,
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("ESHOP_DATABASE_URL is not set")
        );
    }

    #[test]
    fn a_bad_value_is_named_with_the_reason() {
        let env = Env::from_pairs([("ESHOP_LISTEN", "localhost"), ("ESHOP_INTERNAL_TOKEN", "t")]);
        let error = ServerSettings::load(&env).unwrap_err();
        assert!(
            matches!(&error, SettingsError::Invalid { name: "ESHOP_LISTEN", value, .. } if value == "localhost"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_secret_is_named_but_not_shown() {
        let env = Env::from_pairs([("ESHOP_INTERNAL_TOKEN", "")]);
        let error = ServerSettings::load(&env).unwrap_err().to_string();
        assert_eq!(
            error,
            "ESHOP_INTERNAL_TOKEN=(hidden) is invalid: it is empty"
        );
    }

    #[test]
    fn the_backend_chooses_which_variables_are_required() {
        let embedded =
            Env::from_pairs([("ESHOP_BACKEND", "embedded"), ("ESHOP_DATA_DIR", "/data")]);
        assert!(matches!(
            KeyValueStore::load(&embedded),
            Ok(KeyValueStore::Sqlite { data_dir }) if data_dir == std::path::Path::new("/data")
        ));
        let bad_url = Env::from_pairs([("ESHOP_DATABASE_URL", "not a url")]);
        assert!(matches!(
            SqlStore::load(&bad_url),
            Err(SettingsError::Invalid { name: "ESHOP_DATABASE_URL", value, .. }) if value == "(hidden)"
        ));
        let unknown = Env::from_pairs([("ESHOP_BACKEND", "cloud")]);
        assert!(matches!(
            KeyValueStore::load(&unknown),
            Err(SettingsError::Invalid {
                name: "ESHOP_BACKEND",
                ..
            })
        ));
    }

    #[test]
    fn service_urls_and_rates_are_checked() {
        let url: ServiceUrl = "http://catalog:8080/".parse().unwrap();
        assert_eq!(url.as_str(), "http://catalog:8080");
        for bad in [
            "catalog:8080",
            "ftp://catalog",
            "http://catalog?x=1",
            "not a url",
        ] {
            assert!(bad.parse::<ServiceUrl>().is_err(), "{bad}");
        }
        assert_eq!("0.25".parse::<Rate>().unwrap().value(), 0.25);
        assert!("1.5".parse::<Rate>().is_err());
        assert!(!Rate::ZERO.hits());
    }

    #[test]
    fn defaults_apply_and_settings_round_trip() {
        let server =
            ServerSettings::load(&Env::from_pairs([("ESHOP_INTERNAL_TOKEN", "t")])).unwrap();
        assert_eq!(server.listen.port(), 8080);
        assert_eq!(server.request_timeout, std::time::Duration::from_secs(10));
        assert_round_trip(&server);
        assert_round_trip(&KeyValueStore::Redis {
            url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "shop-a:".to_owned(),
        });
        assert_round_trip(&SqlStore::Sqlite {
            data_dir: PathBuf::from("/var/lib/eshop"),
        });
    }
}
