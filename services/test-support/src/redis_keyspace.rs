//! A Redis key prefix per test; every key under it is deleted afterwards.

use futures::TryStreamExt;
use redis::{AsyncCommands, aio::MultiplexedConnection};

use crate::{run_to_completion, store_url};

/// A key space of its own on the test Redis server: keys start with
/// [`TestRedis::prefix`].
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// Claims a fresh prefix, `test:<random>:`, and checks the server answers.
    ///
    /// # Panics
    /// When the server is unreachable.
    pub async fn create() -> Self {
        let test_redis = Self {
            url: store_url("ESHOP_TEST_REDIS_URL"),
            prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        };
        let _: String = redis::cmd("PING")
            .query_async(&mut test_redis.connection().await)
            .await
            .expect("the test Redis server answers PING");
        test_redis
    }

    /// The server's URL, for code that connects itself.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The prefix of every key this test may use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `name` inside this test's key space.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A new connection to the server.
    ///
    /// # Panics
    /// When the server is unreachable.
    pub async fn connection(&self) -> MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("ESHOP_TEST_REDIS_URL is a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connecting to the test Redis server")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        run_to_completion(async move {
            let mut connection = redis::Client::open(url)
                .expect("ESHOP_TEST_REDIS_URL is a Redis URL")
                .get_multiplexed_async_connection()
                .await
                .expect("connecting to the test Redis server");
            let keys: Vec<String> = connection
                .scan_match(&pattern)
                .await
                .expect("scanning the test's keys")
                .try_collect()
                .await
                .expect("scanning the test's keys");
            if !keys.is_empty() {
                let _: () = connection
                    .del(keys)
                    .await
                    .expect("deleting the test's keys");
            }
        });
    }
}
