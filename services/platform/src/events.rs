//! The event bus: streams of events, read by consumer groups.
//!
//! Producers never publish directly: they write events to their own
//! transactional outbox (see [`crate::outbox`]) in the transaction that
//! changes their state, and a relay publishes them here. Each consumer group
//! sees every event of a stream at least once:
//!
//! - a delivery stays pending until the consumer acknowledges it;
//! - a delivery left unacknowledged longer than `redeliver_after` (the
//!   consumer crashed, or its handler failed) is delivered again, to any
//!   consumer of the group;
//! - after `max_attempts` deliveries it goes to the dead-letter stream
//!   `<stream>.dead` and stops blocking the others.
//!
//! Consumers must therefore be idempotent: handling an event twice changes
//! nothing the second time (record handled event ids with the state change).
//!
//! A stream does not grow for ever: [`EventBus::trim`] removes the messages
//! every group of the stream has acknowledged once they are older than the
//! retention, and each consumer loop calls it now and then. A message some
//! group has not yet received or acknowledged is never removed, and a group
//! that has joined but never read holds the whole stream. (A group created
//! later starts at the oldest message left.)
//!
//! Two implementations with the same semantics: Redis Streams with consumer
//! groups on the server backend ([`redis::RedisBus`]), and a SQLite file
//! shared by every service of the embedded backend ([`sqlite::SqliteBus`]).

pub mod redis;
pub mod sqlite;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// An event, as it travels: the envelope and a JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique; consumers use it to recognise a redelivery.
    pub id: Uuid,
    /// What happened, e.g. `OrderPaid`.
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub payload: serde_json::Value,
}

impl Event {
    /// A new event of `kind` carrying `payload`.
    pub fn new(kind: &str, payload: &impl Serialize) -> Self {
        Self {
            id: Uuid::new_v4(),
            kind: kind.to_owned(),
            occurred_at: OffsetDateTime::now_utc(),
            payload: serde_json::to_value(payload).expect("event payloads serialize"),
        }
    }

    /// The payload as `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }
}

/// An event handed to a consumer of a group.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Event,
    /// The bus's id of this message, for `ack` and `dead_letter`.
    pub message_id: String,
    /// 1 for the first delivery, 2 for the first redelivery, ...
    pub attempt: u32,
}

/// A failure of the bus itself (not of a handler).
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("a message on {stream} is not an event: {reason}")]
    Malformed { stream: String, reason: String },
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Appends `event` to `stream`.
    async fn publish(&self, stream: &str, event: &Event) -> Result<(), BusError>;

    /// Creates `group` on `stream` if missing; a new group starts at the
    /// beginning of the stream, so nothing published before is missed.
    async fn join(&self, stream: &str, group: &str) -> Result<(), BusError>;

    /// Up to `max` deliveries for `consumer`: first messages of the group
    /// left unacknowledged for longer than `redeliver_after`, then new ones.
    /// Waits up to `wait` when there are none.
    async fn receive(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        redeliver_after: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError>;

    /// Marks a delivery handled.
    async fn ack(&self, stream: &str, group: &str, message_id: &str) -> Result<(), BusError>;

    /// Moves a delivery to `<stream>.dead`, with `reason`, and acknowledges it.
    async fn dead_letter(
        &self,
        stream: &str,
        group: &str,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), BusError>;

    /// Removes from `stream` the messages older than `older_than` that
    /// every group of the stream has received and acknowledged, and says
    /// how many. A stream no group reads is left whole.
    async fn trim(&self, stream: &str, older_than: OffsetDateTime) -> Result<u64, BusError>;

    /// Events in `stream`, oldest first, for tests and inspection.
    async fn read_all(&self, stream: &str) -> Result<Vec<Event>, BusError>;
}

/// The bus of a backend: Redis Streams beside the key-value store of the
/// server backend, or the SQLite bus file in the embedded data directory.
pub async fn open(store: &crate::settings::KeyValueStore) -> Result<Arc<dyn EventBus>, BusError> {
    Ok(match store {
        crate::settings::KeyValueStore::Redis { url, key_prefix } => {
            Arc::new(redis::RedisBus::new(url, key_prefix)?)
        }
        crate::settings::KeyValueStore::Sqlite { data_dir } => {
            Arc::new(sqlite::SqliteBus::open(data_dir).await?)
        }
    })
}

/// How a consumer loop treats failures.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Unacknowledged deliveries older than this are delivered again.
    pub redeliver_after: Duration,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
    /// Deliveries fetched at once.
    pub batch: usize,
    /// How long one receive waits for new messages.
    pub wait: Duration,
    /// Acknowledged messages older than this are trimmed from the stream.
    pub retention: Duration,
    /// How often the loop trims the stream.
    pub trim_every: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            redeliver_after: Duration::from_secs(10),
            max_attempts: 5,
            batch: 16,
            wait: Duration::from_millis(500),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            trim_every: crate::housekeeping::PRUNE_EVERY,
        }
    }
}

/// Why a handler could not handle an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another attempt later (a store or service was unavailable).
    #[error("{0}")]
    Retry(String),
    /// Never going to work (a malformed payload): dead-letter it now.
    #[error("{0}")]
    Reject(String),
}

/// Consumes `stream` as `consumer` of `group` until `stopping` is
/// cancelled, handing each event to `handle`: acknowledged when it returns
/// `Ok`, left for redelivery on [`HandlerError::Retry`], dead-lettered on
/// [`HandlerError::Reject`] or after `max_attempts`. Every `trim_every` it
/// trims the stream of what every group has acknowledged and is older than
/// `retention`.
pub async fn consume<H, Fut>(
    bus: Arc<dyn EventBus>,
    stream: &'static str,
    group: &'static str,
    consumer: String,
    options: ConsumerOptions,
    stopping: CancellationToken,
    handle: H,
) where
    H: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    let mut pause = Duration::from_millis(100);
    let mut trimmed_at = Instant::now();
    loop {
        if stopping.is_cancelled() {
            return;
        }
        if trimmed_at.elapsed() >= options.trim_every {
            trimmed_at = Instant::now();
            let older_than = OffsetDateTime::now_utc() - options.retention;
            match bus.trim(stream, older_than).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(stream, removed, "trimmed the stream"),
                Err(error) => tracing::warn!(stream, %error, "cannot trim the stream"),
            }
        }
        let received = async {
            bus.join(stream, group).await?;
            bus.receive(
                stream,
                group,
                &consumer,
                options.batch,
                options.redeliver_after,
                options.wait,
            )
            .await
        };
        let deliveries = tokio::select! {
            received = received => received,
            () = stopping.cancelled() => return,
        };
        let deliveries = match deliveries {
            Ok(deliveries) => {
                pause = Duration::from_millis(100);
                deliveries
            }
            Err(error) => {
                tracing::warn!(stream, group, %error, retry_in = ?pause, "cannot read events");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stopping.cancelled() => return,
                }
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        for delivery in deliveries {
            let outcome = if delivery.attempt > options.max_attempts {
                Err(HandlerError::Reject(format!(
                    "gave up after {} deliveries",
                    options.max_attempts
                )))
            } else {
                handle(delivery.event.clone()).await
            };
            let settled = match outcome {
                Ok(()) => bus.ack(stream, group, &delivery.message_id).await,
                Err(HandlerError::Retry(reason)) => {
                    tracing::warn!(stream, group, event = %delivery.event.id, kind = delivery.event.kind, attempt = delivery.attempt, reason, "event will be redelivered");
                    Ok(())
                }
                Err(HandlerError::Reject(reason)) => {
                    tracing::error!(stream, group, event = %delivery.event.id, kind = delivery.event.kind, reason, "event dead-lettered");
                    bus.dead_letter(stream, group, &delivery, &reason).await
                }
            };
            if let Err(error) = settled {
                tracing::warn!(stream, group, %error, "cannot settle a delivery; it will be redelivered");
            }
        }
    }
}
