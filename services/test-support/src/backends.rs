//! The stores a service runs on in a test, for either backend: a fresh
//! PostgreSQL database or Redis key space (server), or a fresh directory of
//! SQLite files (embedded).

use eshop_platform::settings::{KeyValueStore, SqlStore};
use secrecy::SecretString;
use tempfile::TempDir;

use crate::{TestDatabase, TestRedis};

/// Which backend a test runs a service on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// PostgreSQL and Redis, started by the test command.
    Server,
    /// SQLite files in a temporary directory.
    Embedded,
}

/// A SQL store of a test's own; dropping it removes it.
#[derive(Debug)]
pub enum TestSqlStore {
    Postgres(Box<TestDatabase>),
    Sqlite(TempDir),
}

impl TestSqlStore {
    pub async fn create(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Server => Self::Postgres(Box::new(TestDatabase::create().await)),
            TestBackend::Embedded => Self::Sqlite(temp_dir()),
        }
    }

    /// The settings that point a service at this store.
    pub fn settings(&self) -> SqlStore {
        match self {
            Self::Postgres(database) => SqlStore::Postgres {
                url: SecretString::from(database.url()),
            },
            Self::Sqlite(dir) => SqlStore::Sqlite {
                data_dir: dir.path().to_owned(),
            },
        }
    }
}

/// A key-value store of a test's own; dropping it removes it.
#[derive(Debug)]
pub enum TestKeyValueStore {
    Redis(TestRedis),
    Sqlite(TempDir),
}

impl TestKeyValueStore {
    pub async fn create(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Server => Self::Redis(TestRedis::create().await),
            TestBackend::Embedded => Self::Sqlite(temp_dir()),
        }
    }

    /// The settings that point a service at this store.
    pub fn settings(&self) -> KeyValueStore {
        match self {
            Self::Redis(redis) => KeyValueStore::Redis {
                url: SecretString::from(redis.url().to_owned()),
                key_prefix: redis.prefix().to_owned(),
            },
            Self::Sqlite(dir) => KeyValueStore::Sqlite {
                data_dir: dir.path().to_owned(),
            },
        }
    }
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("eshop-test-")
        .tempdir()
        .expect("creating a temporary directory")
}
