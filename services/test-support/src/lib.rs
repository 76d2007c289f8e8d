//! What the services' tests share.
//!
//! Each test gets a PostgreSQL database of its own and a Redis key prefix of
//! its own, on the loopback servers that the test command (`tests/run`)
//! starts. They are found through `ESHOP_TEST_POSTGRES_URL` (an admin URL) and
//! `ESHOP_TEST_REDIS_URL`. Dropping the handle removes the database or the
//! keys, even when the test panics. For the embedded backend a test gets a
//! temporary directory of SQLite files instead ([`TestSqlStore`],
//! [`TestKeyValueStore`]).
//!
//! Black-box tests [`run`] a service on port 0 with test credentials
//! ([`server_settings`], [`TestKeys`]) and talk to it over HTTP; the
//! [`on_both_backends!`] macro runs each such test on both backends;
//! [`assert_error`] checks the error shape they answer with.
//! Benchmarks report [`Latencies`].
//!
//! ```no_run
//! # async fn example() {
//! use eshop_test_support::{TestDatabase, TestRedis};
//!
//! let database = TestDatabase::create().await;
//! sqlx::query("CREATE TABLE t (id int)").execute(database.pool()).await.unwrap();
//! let redis = TestRedis::create().await;
//! let key = redis.key("cart");
//! # let _ = key;
//! # }
//! ```

mod backends;
mod credentials;
mod errors;
mod latency;
mod postgres;
mod redis_keyspace;
mod service;

pub use backends::{TestBackend, TestKeyValueStore, TestSqlStore};
pub use credentials::{INTERNAL_TOKEN, TestKeys, server_settings};
pub use errors::assert_error;
pub use latency::Latencies;
pub use postgres::TestDatabase;
pub use redis_keyspace::TestRedis;
pub use service::{RunningService, run, start, wait_until_ready};

/// Reads the URL of a store that the test command started.
///
/// # Panics
/// When the variable is unset, saying how to start the stores.
fn store_url(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set. Run the tests through tests/run, which starts \
             PostgreSQL and Redis on loopback, or start them yourself with \
             `tests/stores up` and `eval \"$(tests/stores env)\"`."
        )
    })
}

/// Runs `cleanup` to completion on a runtime of its own, so that `Drop` can
/// finish async work whatever runtime (if any) the test used.
fn run_to_completion<F>(cleanup: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let worker = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a runtime for cleanup")
            .block_on(cleanup);
    });
    if worker.join().is_err() && !std::thread::panicking() {
        panic!("cleaning up a test store failed");
    }
}
