//! Both stores are reached for real: data makes a round trip through the
//! loopback PostgreSQL and Redis, each test's data is invisible to the others,
//! and nothing is left once the handles are dropped.

use eshop_test_support::{TestDatabase, TestRedis};
use redis::AsyncCommands;
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_row_makes_a_round_trip_through_postgresql() {
    let database = TestDatabase::create().await;
    sqlx::query("CREATE TABLE products (sku text PRIMARY KEY, price_cents bigint NOT NULL)")
        .execute(database.pool())
        .await
        .expect("creating a table");
    sqlx::query("INSERT INTO products VALUES ($1, $2)")
        .bind("ROBOT-1")
        .bind(4_999_i64)
        .execute(database.pool())
        .await
        .expect("inserting a row");

    let (sku, price): (String, i64) = sqlx::query_as("SELECT sku, price_cents FROM products")
        .fetch_one(database.pool())
        .await
        .expect("reading the row back");
    assert_eq!((sku.as_str(), price), ("ROBOT-1", 4_999));

    let server: String = sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(database.pool())
        .await
        .expect("asking the server its version");
    eprintln!("PostgreSQL {server}, database {}", database.name());
}

#[tokio::test]
async fn each_test_database_is_isolated_and_dropped_afterwards() {
    let first = TestDatabase::create().await;
    let second = TestDatabase::create().await;
    sqlx::query("CREATE TABLE only_in_first (id int)")
        .execute(first.pool())
        .await
        .expect("creating a table");
    let tables_in_second: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_first'",
    )
    .fetch_one(second.pool())
    .await
    .expect("listing tables");
    assert_eq!(tables_in_second, 0);

    let name = first.name().to_owned();
    let mut admin = PgConnection::connect_with(&first.connect_options().database("postgres"))
        .await
        .expect("connecting as admin");
    drop(first);
    let still_there: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("listing databases");
    assert!(!still_there, "database {name} was dropped");
}

#[tokio::test]
async fn a_value_makes_a_round_trip_through_redis_and_is_cleaned_up() {
    let redis = TestRedis::create().await;
    let mut connection = redis.connection().await;
    let cart = redis.key("cart:alice");
    let _: () = connection
        .hset(&cart, "ROBOT-1", 2)
        .await
        .expect("writing a hash");
    let quantity: u32 = connection
        .hget(&cart, "ROBOT-1")
        .await
        .expect("reading it back");
    assert_eq!(quantity, 2);

    let other = TestRedis::create().await;
    assert_ne!(redis.prefix(), other.prefix());
    let seen_by_other: bool = connection
        .exists(other.key("cart:alice"))
        .await
        .expect("checking another key space");
    assert!(!seen_by_other);

    drop(redis);
    let left: bool = connection.exists(&cart).await.expect("checking the key");
    assert!(!left, "the test's keys are deleted when it ends");
}
