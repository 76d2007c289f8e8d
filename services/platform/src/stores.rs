//! Connections to the stores, and the preparation each needs before a service
//! can serve.
//!
//! Connections are lazy: a service starts and answers `/healthz` even while
//! its database is down. Preparation (creating the service's schema and
//! running its migrations) runs in the background and is retried with
//! backoff until it succeeds; until then `/readyz` answers 503 and the API
//! answers 503 `starting`.

use std::{
    path::Path,
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    Connection, PgConnection, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio_util::sync::CancellationToken;

use crate::{error::ApiError, health::Readiness};

/// How long a request waits for a database connection before it gets 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A lazy pool on the service's own schema (`search_path`) of the database
/// at `url`. [`prepare_postgres`] creates the schema.
pub fn postgres_pool(url: &SecretString, schema: &'static str) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url.expose_secret())?
        .options([("search_path", schema)])
        .application_name(schema);
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}

/// Creates the service's schema and runs its migrations. Safe to run from
/// several replicas at once: sqlx takes an advisory lock.
pub async fn prepare_postgres(
    pool: &PgPool,
    schema: &'static str,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"CREATE SCHEMA IF NOT EXISTS "{schema}""#
    )))
    .execute(pool)
    .await?;
    migrator.run(pool).await?;
    Ok(())
}

/// A lazy pool on `<data_dir>/<name>.sqlite3`, created if missing, in WAL
/// mode so reads go on while one connection writes.
pub fn sqlite_pool(data_dir: &Path, name: &str) -> Result<SqlitePool, std::io::Error> {
    std::fs::create_dir_all(data_dir)?;
    let options = SqliteConnectOptions::new()
        .filename(data_dir.join(format!("{name}.sqlite3")))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}

/// A Redis connection that connects on first use and reconnects by itself.
pub fn redis_connection(url: &SecretString) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url.expose_secret())?;
    client.get_connection_manager_lazy(
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1),
    )
}

/// Whether the service's stores have been prepared. Gates the API and is
/// one of the `/readyz` checks.
#[derive(Debug, Clone, Default)]
pub struct Preparation {
    done: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl Preparation {
    /// Runs `prepare` until it succeeds, backing off from 100 ms to 5 s
    /// between attempts, or until `stopping` is cancelled.
    pub fn start<F, Fut, E>(what: &'static str, stopping: CancellationToken, mut prepare: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::error::Error + Send + 'static,
    {
        let preparation = Self::default();
        let progress = preparation.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(100);
            loop {
                match prepare().await {
                    Ok(()) => {
                        progress.done.store(true, Ordering::Release);
                        *progress.last_error.lock().expect("not poisoned") = None;
                        tracing::info!(what, "stores prepared");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(what, %error, retry_in = ?pause, "stores not ready");
                        *progress.last_error.lock().expect("not poisoned") =
                            Some(error.to_string());
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stopping.cancelled() => return,
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        });
        preparation
    }

    /// Already done: for a service that has no store to prepare.
    pub fn done() -> Self {
        let preparation = Self::default();
        preparation.done.store(true, Ordering::Release);
        preparation
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

#[async_trait]
impl Readiness for Preparation {
    fn name(&self) -> &'static str {
        "schema"
    }

    async fn check(&self) -> Result<(), String> {
        if self.is_done() {
            return Ok(());
        }
        let last_error = self.last_error.lock().expect("not poisoned").clone();
        Err(last_error.unwrap_or_else(|| "being prepared".to_owned()))
    }
}

/// Middleware: 503 `starting` until the stores are prepared.
pub async fn require_prepared(
    State(preparation): State<Preparation>,
    request: Request,
    next: Next,
) -> Response {
    if preparation.is_done() {
        next.run(request).await
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the service is starting; try again shortly",
        )
        .into_response()
    }
}

/// `/readyz` check: PostgreSQL answers a query. When the pool has no
/// connection to offer, a direct connection attempt says why (refused,
/// unknown database, bad password) instead of "timed out".
#[derive(Debug, Clone)]
pub struct PostgresCheck(pub PgPool);

#[async_trait]
impl Readiness for PostgresCheck {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), String> {
        let pooled = tokio::time::timeout(Duration::from_millis(500), self.0.acquire()).await;
        let Ok(Ok(mut connection)) = pooled else {
            return match PgConnection::connect_with(&self.0.connect_options()).await {
                Ok(_) => Err("the connection pool is exhausted".to_owned()),
                Err(error) => Err(error.to_string()),
            };
        };
        sqlx::query("SELECT 1")
            .execute(&mut *connection)
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }
}

/// `/readyz` check: the SQLite file answers a query.
#[derive(Debug, Clone)]
pub struct SqliteCheck(pub SqlitePool);

#[async_trait]
impl Readiness for SqliteCheck {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }
}

/// `/readyz` check: Redis answers PING.
#[derive(Clone)]
pub struct RedisCheck(pub ConnectionManager);

impl std::fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCheck")
    }
}

#[async_trait]
impl Readiness for RedisCheck {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self.0.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }
}
