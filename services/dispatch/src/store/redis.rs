//! Shipments on Redis (the server backend), every key under the configured
//! prefix:
//!
//! - `<prefix>dispatch:shipment:<order id>`: a hash per shipment, its status
//!   and times (milliseconds since the epoch) and tracking number;
//! - `<prefix>dispatch:due`: a sorted set of the shipments that have a move
//!   ahead, scored by when it is due (`dispatch_at`, then `deliver_at`);
//! - `<prefix>dispatch:counts`: a hash of how many shipments are in each
//!   status, kept by the same scripts, so the summary is one read;
//! - `<prefix>dispatch:finished`: a sorted set of the delivered and
//!   cancelled shipments, scored by when they finished, which is how
//!   pruning past the retention finds them;
//! - `<prefix>stream:dispatch`: the dispatch stream, named and shaped as
//!   [`RedisBus`](eshop_platform::events::redis::RedisBus) names and shapes
//!   streams (fields `event`, the JSON envelope, and `kind`).
//!
//! Every change is one Lua script, so it is atomic, and a move appends its
//! event to the stream inside the script that makes it. The append comes
//! first: if it fails nothing has changed, and once a script has written,
//! Redis lets it finish even when memory runs out.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use eshop_contracts::DISPATCH_STREAM;
use eshop_platform::events::Event;
use redis::{AsyncCommands, Script, aio::ConnectionManager};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{DispatchStore, StoreError, StoreResult};
use crate::domain::{
    Cancellation, Move, Scheduling, Shipment, ShipmentStatus, ShipmentSummary, after,
    delivered_event, dispatched_event, epoch_ms, from_epoch_ms, tracking_number,
};

/// Schedules a shipment unless the order has one. KEYS: the shipment, the
/// due set, the counts. ARGV: order id, now, dispatch_at (ms). Returns
/// `new`, or the status the order already had.
const SCHEDULE: &str = r"
local status = redis.call('HGET', KEYS[1], 'status')
if status then
  return status
end
redis.call('HSET', KEYS[1], 'status', 'scheduled', 'scheduled_at', ARGV[2], 'dispatch_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'scheduled', 1)
return 'new'
";

/// Cancels a shipment that has not left, or records a cancellation that
/// came too late. KEYS: the shipment, the due set, the counts, the finished
/// set. ARGV: order id, now (ms). Returns `stopped`, `before_payment`,
/// `late` or `repeated`.
const CANCEL: &str = r"
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[2])
  redis.call('HINCRBY', KEYS[3], 'cancelled', 1)
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  return 'before_payment'
elseif status == 'scheduled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'scheduled', -1)
  redis.call('HINCRBY', KEYS[3], 'cancelled', 1)
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  return 'stopped'
elseif status ~= 'cancelled' and redis.call('HSETNX', KEYS[1], 'late_cancellation_at', ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'late_cancellations', 1)
  return 'late'
end
return 'repeated'
";

/// Moves a due shipment one step on and appends the event of the move to
/// the dispatch stream. KEYS: the shipment, the due set, the counts, the
/// stream, the finished set. ARGV: order id, now (ms), tracking number, deliver_at (ms), the
/// `OrderDispatched` and the `OrderDelivered` envelope (JSON); the script
/// uses the one that fits. Returns `dispatched`, `delivered`, `not_due`
/// (another replica moved it first) or `stale`.
const ADVANCE: &str = r"
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then
  return 'not_due'
end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'scheduled' then
  redis.call('XADD', KEYS[4], '*', 'event', ARGV[5], 'kind', 'OrderDispatched')
  redis.call('HSET', KEYS[1], 'status', 'dispatched', 'dispatched_at', ARGV[2],
    'tracking_number', ARGV[3], 'deliver_at', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'scheduled', -1)
  redis.call('HINCRBY', KEYS[3], 'dispatched', 1)
  return 'dispatched'
elseif status == 'dispatched' then
  redis.call('XADD', KEYS[4], '*', 'event', ARGV[6], 'kind', 'OrderDelivered')
  redis.call('HSET', KEYS[1], 'status', 'delivered', 'delivered_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'dispatched', -1)
  redis.call('HINCRBY', KEYS[3], 'delivered', 1)
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
  return 'delivered'
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 'stale'
";

/// Deletes a finished shipment and takes it out of the counts. KEYS: the
/// shipment, the finished set, the counts. ARGV: order id. Returns 1 when
/// it deleted a shipment, 0 when there was none left to delete.
const PRUNE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'delivered' and status ~= 'cancelled' then
  return 0
end
redis.call('HINCRBY', KEYS[3], status, -1)
if redis.call('HEXISTS', KEYS[1], 'late_cancellation_at') == 1 then
  redis.call('HINCRBY', KEYS[3], 'late_cancellations', -1)
end
redis.call('DEL', KEYS[1])
return 1
";

/// How many finished shipments one round of pruning reads at a time.
const PRUNE_BATCH: isize = 500;

pub struct RedisDispatch {
    connection: ConnectionManager,
    /// Every key starts with it.
    key_prefix: String,
    schedule: Script,
    cancel: Script,
    advance: Script,
    prune: Script,
}

impl std::fmt::Debug for RedisDispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDispatch")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisDispatch {
    pub fn new(connection: ConnectionManager, key_prefix: &str) -> Self {
        Self {
            connection,
            key_prefix: key_prefix.to_owned(),
            schedule: Script::new(SCHEDULE),
            cancel: Script::new(CANCEL),
            advance: Script::new(ADVANCE),
            prune: Script::new(PRUNE),
        }
    }

    fn shipment_key(&self, order_id: Uuid) -> String {
        format!("{}dispatch:shipment:{order_id}", self.key_prefix)
    }

    fn due_key(&self) -> String {
        format!("{}dispatch:due", self.key_prefix)
    }

    fn counts_key(&self) -> String {
        format!("{}dispatch:counts", self.key_prefix)
    }

    fn finished_key(&self) -> String {
        format!("{}dispatch:finished", self.key_prefix)
    }

    /// The dispatch stream, under the name the bus gives it.
    fn stream_key(&self) -> String {
        format!("{}stream:{DISPATCH_STREAM}", self.key_prefix)
    }

    /// Moves one due shipment; `None` when there was nothing to do.
    async fn advance_one(
        &self,
        order_id: Uuid,
        now: OffsetDateTime,
        deliver_at: OffsetDateTime,
    ) -> StoreResult<Option<Move>> {
        let tracking_number = tracking_number();
        let dispatched = dispatched_event(order_id, &tracking_number, now);
        let delivered = delivered_event(order_id, now);
        let mut connection = self.connection.clone();
        let outcome: String = self
            .advance
            .key(self.shipment_key(order_id))
            .key(self.due_key())
            .key(self.counts_key())
            .key(self.stream_key())
            .key(self.finished_key())
            .arg(order_id.to_string())
            .arg(epoch_ms(now))
            .arg(&tracking_number)
            .arg(epoch_ms(deliver_at))
            .arg(envelope(&dispatched))
            .arg(envelope(&delivered))
            .invoke_async(&mut connection)
            .await?;
        match outcome.as_str() {
            "dispatched" => Ok(Some(Move::Dispatched {
                order_id,
                tracking_number,
            })),
            "delivered" => Ok(Some(Move::Delivered { order_id })),
            "not_due" | "stale" => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "the advance script answered {other:?}"
            ))),
        }
    }
}

/// An event as the bus carries it in a stream entry's `event` field.
fn envelope(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize")
}

/// A shipment from its hash's fields.
fn shipment_from(order_id: Uuid, fields: &HashMap<String, String>) -> StoreResult<Shipment> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("shipment {order_id}: {what}"));
    let time = |field: &str| -> StoreResult<Option<OffsetDateTime>> {
        fields
            .get(field)
            .map(|ms| {
                ms.parse::<i64>()
                    .map(from_epoch_ms)
                    .map_err(|_| corrupt(&format!("{field} is {ms:?}")))
            })
            .transpose()
    };
    let status = fields.get("status").map(String::as_str).unwrap_or_default();
    Ok(Shipment {
        order_id,
        status: ShipmentStatus::from_store(status)
            .ok_or_else(|| corrupt(&format!("status is {status:?}")))?,
        tracking_number: fields.get("tracking_number").cloned(),
        scheduled_at: time("scheduled_at")?,
        dispatch_at: time("dispatch_at")?,
        dispatched_at: time("dispatched_at")?,
        deliver_at: time("deliver_at")?,
        delivered_at: time("delivered_at")?,
        cancelled_at: time("cancelled_at")?,
        late_cancellation_at: time("late_cancellation_at")?,
    })
}

#[async_trait]
impl DispatchStore for RedisDispatch {
    /// Loads the scripts, which also shows Redis answers and runs Lua.
    async fn prepare(&self) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        for script in [&self.schedule, &self.cancel, &self.advance, &self.prune] {
            script.load_async(&mut connection).await?;
        }
        Ok(())
    }

    async fn schedule(
        &self,
        order_id: Uuid,
        now: OffsetDateTime,
        dispatch_at: OffsetDateTime,
    ) -> StoreResult<Scheduling> {
        let mut connection = self.connection.clone();
        let outcome: String = self
            .schedule
            .key(self.shipment_key(order_id))
            .key(self.due_key())
            .key(self.counts_key())
            .arg(order_id.to_string())
            .arg(epoch_ms(now))
            .arg(epoch_ms(dispatch_at))
            .invoke_async(&mut connection)
            .await?;
        if outcome == "new" {
            return Ok(Scheduling::Scheduled { dispatch_at });
        }
        ShipmentStatus::from_store(&outcome)
            .map(Scheduling::Known)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("shipment {order_id}: status is {outcome:?}"))
            })
    }

    async fn cancel(&self, order_id: Uuid, now: OffsetDateTime) -> StoreResult<Cancellation> {
        let mut connection = self.connection.clone();
        let outcome: String = self
            .cancel
            .key(self.shipment_key(order_id))
            .key(self.due_key())
            .key(self.counts_key())
            .key(self.finished_key())
            .arg(order_id.to_string())
            .arg(epoch_ms(now))
            .invoke_async(&mut connection)
            .await?;
        match outcome.as_str() {
            "stopped" => Ok(Cancellation::Stopped),
            "before_payment" => Ok(Cancellation::BeforePayment),
            "late" => Ok(Cancellation::Late),
            "repeated" => Ok(Cancellation::Repeated),
            other => Err(StoreError::Corrupt(format!(
                "the cancel script answered {other:?}"
            ))),
        }
    }

    async fn advance_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        delivery_delay: Duration,
    ) -> StoreResult<Vec<Move>> {
        let mut connection = self.connection.clone();
        let due: Vec<String> = connection
            .zrangebyscore_limit(
                self.due_key(),
                "-inf",
                epoch_ms(now),
                0,
                isize::try_from(limit).unwrap_or(isize::MAX),
            )
            .await?;
        let deliver_at = after(now, delivery_delay);
        let mut moves = Vec::with_capacity(due.len());
        for member in due {
            let order_id = Uuid::try_parse(&member).map_err(|_| {
                StoreError::Corrupt(format!("the due set holds {member:?}, not an order id"))
            })?;
            match self.advance_one(order_id, now, deliver_at).await {
                Ok(moved) => moves.extend(moved),
                // What moved stays moved; the rest waits for the next pass.
                Err(error) if !moves.is_empty() => {
                    tracing::warn!(%error, order_id = %order_id, "moving a due shipment failed");
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(moves)
    }

    async fn shipment(&self, order_id: Uuid) -> StoreResult<Option<Shipment>> {
        let mut connection = self.connection.clone();
        let fields: HashMap<String, String> =
            connection.hgetall(self.shipment_key(order_id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        shipment_from(order_id, &fields).map(Some)
    }

    async fn summary(&self) -> StoreResult<ShipmentSummary> {
        let mut connection = self.connection.clone();
        let counts: HashMap<String, i64> = connection.hgetall(self.counts_key()).await?;
        let count = |status: &str| {
            counts
                .get(status)
                .map_or(0, |count| u64::try_from(*count).unwrap_or(0))
        };
        let mut summary = ShipmentSummary {
            scheduled: count("scheduled"),
            dispatched: count("dispatched"),
            delivered: count("delivered"),
            cancelled: count("cancelled"),
            late_cancellations: count("late_cancellations"),
            total: 0,
        };
        summary.total =
            summary.scheduled + summary.dispatched + summary.delivered + summary.cancelled;
        Ok(summary)
    }

    async fn prune_finished(&self, finished_before: OffsetDateTime) -> StoreResult<u64> {
        let mut connection = self.connection.clone();
        let mut deleted = 0;
        loop {
            let finished: Vec<String> = connection
                .zrangebyscore_limit(
                    self.finished_key(),
                    "-inf",
                    format!("({}", epoch_ms(finished_before)),
                    0,
                    PRUNE_BATCH,
                )
                .await?;
            for member in &finished {
                let order_id = Uuid::try_parse(member).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "the finished set holds {member:?}, not an order id"
                    ))
                })?;
                let pruned: u64 = self
                    .prune
                    .key(self.shipment_key(order_id))
                    .key(self.finished_key())
                    .key(self.counts_key())
                    .arg(member)
                    .invoke_async(&mut connection)
                    .await?;
                deleted += pruned;
            }
            if finished.len() < PRUNE_BATCH.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }
}
