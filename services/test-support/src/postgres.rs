//! A PostgreSQL database per test, created empty and dropped afterwards.

use std::str::FromStr;

use sqlx::{
    AssertSqlSafe, Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{run_to_completion, store_url};

/// A fresh, empty database on the test PostgreSQL server.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin_url: String,
    admin: PgConnectOptions,
    pool: PgPool,
}

impl TestDatabase {
    /// Creates a database named `test_<random>` and connects a pool to it.
    ///
    /// # Panics
    /// When the server is unreachable or refuses; the message says which.
    pub async fn create() -> Self {
        let admin_url = store_url("ESHOP_TEST_POSTGRES_URL");
        let admin = PgConnectOptions::from_str(&admin_url)
            .expect("ESHOP_TEST_POSTGRES_URL is a PostgreSQL URL");
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect_with(&admin)
            .await
            .expect("connecting to the test PostgreSQL server");
        sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("creating database {name}: {error}"));
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(admin.clone().database(&name))
            .await
            .unwrap_or_else(|error| panic!("connecting to database {name}: {error}"));
        Self {
            name,
            admin_url,
            admin,
            pool,
        }
    }

    /// A pool of connections to this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Connection options for this database, for code that connects itself.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }

    /// A URL for this database, as a service's settings take it.
    pub fn url(&self) -> String {
        let (server, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("ESHOP_TEST_POSTGRES_URL ends with a database name");
        format!("{server}/{}", self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        run_to_completion(async move {
            let mut connection = PgConnection::connect_with(&admin)
                .await
                .expect("connecting to the test PostgreSQL server");
            // FORCE ends the pool's connections, which belong to the test's runtime.
            sqlx::query(AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
            )))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("dropping database {name}: {error}"));
        });
    }
}
