//! The seam between users and where it keeps its data: one trait, with a
//! PostgreSQL implementation (server backend) and a SQLite one (embedded).
//!
//! Both guarantee the same things: one account per email (a `UNIQUE`
//! constraint, so concurrent registrations cannot both win), a user's
//! addresses are only ever reached together with the user's id and never
//! exceed the limit (counted under a lock on the user), and the
//! rate-limit check and the recording of an attempt happen atomically per
//! account and address.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{
        Account, AddAddressOutcome, Address, CreateOutcome, Email, NewAddress, NewUser, UserProfile,
    },
    limits::{AttemptKeys, AttemptOutcome, LoginLimits},
};

/// Errors of the stores are database errors; the API maps them to 503/500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the schema and runs migrations.
    async fn prepare(&self) -> StoreResult<()>;

    /// Creates an account, unless its email is taken.
    async fn create_user(&self, user: &NewUser) -> StoreResult<CreateOutcome>;

    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>>;

    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>>;

    /// Renames a user; `None` when no account has this id.
    async fn rename(&self, id: Uuid, name: &str) -> StoreResult<Option<UserProfile>>;

    /// Replaces a user's password hash; `false` when no account has this id.
    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> StoreResult<bool>;

    /// A user's addresses, oldest first.
    async fn addresses(&self, user: Uuid) -> StoreResult<Vec<Address>>;

    /// Adds an address under `id`, unless the user already keeps `max`.
    async fn add_address(
        &self,
        user: Uuid,
        id: Uuid,
        address: &NewAddress,
        now: OffsetDateTime,
        max: usize,
    ) -> StoreResult<AddAddressOutcome>;

    /// Replaces one of the user's addresses; `None` when the user has no
    /// address with this id.
    async fn replace_address(
        &self,
        user: Uuid,
        id: Uuid,
        address: &NewAddress,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Address>>;

    /// Deletes one of the user's addresses; `false` when the user has no
    /// address with this id.
    async fn delete_address(&self, user: Uuid, id: Uuid) -> StoreResult<bool>;

    /// Refuses the attempt if any of its counts ([`AttemptKeys::counts`])
    /// has reached its limit in the window before `now`; otherwise records
    /// it as a failure in each until [`UserStore::attempt_succeeded`] takes
    /// it back.
    async fn begin_attempt(
        &self,
        keys: &AttemptKeys,
        limits: &LoginLimits,
        now: OffsetDateTime,
    ) -> StoreResult<AttemptOutcome>;

    /// The password was right: forgets the account's failures (from
    /// anywhere and from this address) and this attempt's record against
    /// the address (the address's other failures still count).
    async fn attempt_succeeded(&self, attempt: Uuid, keys: &AttemptKeys) -> StoreResult<()>;

    /// Deletes failures from before `before`; returns how many.
    async fn purge_attempts(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

/// Whether `error` is a violation of a unique constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|error| error.is_unique_violation())
}
