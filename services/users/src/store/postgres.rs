//! Users on PostgreSQL, in the `users` schema. Adding an address locks the
//! user's row, so concurrent additions count one after another; a login
//! attempt takes transaction-scoped advisory locks on its account and
//! address (always in that order), so concurrent attempts see each other's
//! failures.

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreResult, UserStore, is_unique_violation};
use crate::{
    domain::{
        Account, AddAddressOutcome, Address, CreateOutcome, Email, NewAddress, NewUser, UserProfile,
    },
    limits::{
        ACCOUNT_AND_ADDRESS_SCOPE, ACCOUNT_SCOPE, ADDRESS_SCOPE, AttemptKeys, AttemptOutcome,
        LoginLimits,
    },
};

const SCHEMA: &str = "users";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const ACCOUNT_COLUMNS: &str = "id, email, name, created_at, password_hash";
const ADDRESS_COLUMNS: &str =
    "id, label, name, line1, line2, city, postal_code, country, phone, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct PostgresUsers {
    pool: PgPool,
}

impl PostgresUsers {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn profile(row: &PgRow) -> StoreResult<UserProfile> {
    Ok(UserProfile {
        id: row.try_get("id")?,
        email: Email::from_store(row.try_get("email")?),
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn account(row: &PgRow) -> StoreResult<Account> {
    Ok(Account {
        profile: profile(row)?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn address(row: &PgRow) -> StoreResult<Address> {
    Ok(Address {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        name: row.try_get("name")?,
        line1: row.try_get("line1")?,
        line2: row.try_get("line2")?,
        city: row.try_get("city")?,
        postal_code: row.try_get("postal_code")?,
        country: row.try_get("country")?,
        phone: row.try_get("phone")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// When the `limit`-th most recent failure under `key` since `since`
/// happened, if there are that many.
async fn limit_reached_at(
    connection: &mut PgConnection,
    scope: &str,
    key: &str,
    since: OffsetDateTime,
    limit: u32,
) -> StoreResult<Option<OffsetDateTime>> {
    sqlx::query_scalar(
        "SELECT failed_at FROM login_failures
         WHERE scope = $1 AND key = $2 AND failed_at > $3
         ORDER BY failed_at DESC OFFSET $4 LIMIT 1",
    )
    .bind(scope)
    .bind(key)
    .bind(since)
    .bind(i64::from(limit.saturating_sub(1)))
    .fetch_optional(connection)
    .await
}

#[async_trait]
impl UserStore for PostgresUsers {
    async fn prepare(&self) -> StoreResult<()> {
        eshop_platform::stores::prepare_postgres(&self.pool, SCHEMA, &MIGRATOR).await
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<CreateOutcome> {
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(CreateOutcome::Created(UserProfile {
                id: user.id,
                email: user.email.clone(),
                name: user.name.clone(),
                created_at: user.created_at,
            })),
            Err(error) if is_unique_violation(&error) => Ok(CreateOutcome::EmailTaken),
            Err(error) => Err(error),
        }
    }

    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn rename(&self, id: Uuid, name: &str) -> StoreResult<Option<UserProfile>> {
        sqlx::query(
            "UPDATE users SET name = $2, updated_at = now() WHERE id = $1
             RETURNING id, email, name, created_at",
        )
        .bind(id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(profile)
        .transpose()
    }

    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> StoreResult<bool> {
        let updated =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(updated == 1)
    }

    async fn addresses(&self, user: Uuid) -> StoreResult<Vec<Address>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(address)
        .collect()
    }

    async fn add_address(
        &self,
        user: Uuid,
        id: Uuid,
        new: &NewAddress,
        now: OffsetDateTime,
        max: usize,
    ) -> StoreResult<AddAddressOutcome> {
        let mut tx = self.pool.begin().await?;
        // The user's row is the lock that makes count-then-insert safe.
        let exists: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(AddAddressOutcome::UnknownUser);
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            tx.rollback().await?;
            return Ok(AddAddressOutcome::LimitReached);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO addresses (id, user_id, label, name, line1, line2, city, postal_code,
                 country, phone, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             RETURNING {ADDRESS_COLUMNS}"
        )))
        .bind(id)
        .bind(user)
        .bind(&new.label)
        .bind(&new.name)
        .bind(&new.line1)
        .bind(&new.line2)
        .bind(&new.city)
        .bind(&new.postal_code)
        .bind(&new.country)
        .bind(&new.phone)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let added = address(&row)?;
        tx.commit().await?;
        Ok(AddAddressOutcome::Added(Box::new(added)))
    }

    async fn replace_address(
        &self,
        user: Uuid,
        id: Uuid,
        new: &NewAddress,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Address>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE addresses SET label = $3, name = $4, line1 = $5, line2 = $6, city = $7,
                 postal_code = $8, country = $9, phone = $10, updated_at = $11
             WHERE id = $1 AND user_id = $2
             RETURNING {ADDRESS_COLUMNS}"
        )))
        .bind(id)
        .bind(user)
        .bind(&new.label)
        .bind(&new.name)
        .bind(&new.line1)
        .bind(&new.line2)
        .bind(&new.city)
        .bind(&new.postal_code)
        .bind(&new.country)
        .bind(&new.phone)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(address)
        .transpose()
    }

    async fn delete_address(&self, user: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn begin_attempt(
        &self,
        keys: &AttemptKeys,
        limits: &LoginLimits,
        now: OffsetDateTime,
    ) -> StoreResult<AttemptOutcome> {
        let since = now - limits.window;
        let counts = keys.counts(limits);
        let mut tx = self.pool.begin().await?;
        // Every attempt locks its counts in the same order, so two attempts
        // cannot wait for each other.
        for (scope, key, _) in &counts {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("eshop-users:{scope}:{key}"))
                .execute(&mut *tx)
                .await?;
        }
        let mut reached = None;
        for (scope, key, limit) in &counts {
            let at = limit_reached_at(&mut tx, scope, key, since, *limit).await?;
            reached = reached.max(at);
        }
        if let Some(reached_at) = reached {
            tx.rollback().await?;
            return Ok(AttemptOutcome::Limited {
                retry_at: reached_at + limits.window,
            });
        }
        let attempt = Uuid::new_v4();
        for (scope, key, _) in &counts {
            sqlx::query(
                "INSERT INTO login_failures (attempt_id, scope, key, failed_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(attempt)
            .bind(scope)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(AttemptOutcome::Allowed(attempt))
    }

    async fn attempt_succeeded(&self, attempt: Uuid, keys: &AttemptKeys) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM login_failures
             WHERE (scope = $2 AND key = $3) OR (scope = $4 AND key = $5)
                OR (attempt_id = $1 AND scope = $6)",
        )
        .bind(attempt)
        .bind(ACCOUNT_SCOPE)
        .bind(&keys.account)
        .bind(ACCOUNT_AND_ADDRESS_SCOPE)
        .bind(keys.account_and_address())
        .bind(ADDRESS_SCOPE)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_attempts(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
