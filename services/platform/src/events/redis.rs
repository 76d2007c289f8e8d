//! The bus on Redis Streams: one stream per topic (`<prefix>stream:<name>`),
//! consumer groups with XREADGROUP and XACK, redelivery of idle pending
//! messages with XAUTOCLAIM, a dead-letter stream `<name>.dead`, and
//! trimming with XTRIM MINID below the oldest message a group still needs.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::{
    AsyncCommands, RedisResult,
    aio::ConnectionManager,
    streams::{
        StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamInfoGroupsReply,
        StreamPendingCountReply, StreamPendingReply, StreamRangeReply, StreamReadOptions,
        StreamReadReply, StreamTrimOptions, StreamTrimmingMode,
    },
};
use secrecy::SecretString;
use time::OffsetDateTime;

use super::{BusError, Delivery, Event, EventBus};

/// How often an empty stream is polled while `receive` waits.
const POLL: Duration = Duration::from_millis(50);

/// A stream message id, `<milliseconds>-<sequence>`, as numbers that
/// order as Redis orders ids; one it cannot read counts as the first id,
/// which trims nothing.
fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[derive(Clone)]
pub struct RedisBus {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// A bus on the Redis at `url`, with every key under `prefix`.
    pub fn new(url: &SecretString, prefix: &str) -> RedisResult<Self> {
        Ok(Self {
            connection: crate::stores::redis_connection(url)?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, stream: &str) -> String {
        format!("{}stream:{stream}", self.prefix)
    }

    fn parse(&self, stream: &str, entry: &StreamId) -> Result<Event, BusError> {
        let json: String = entry.get("event").ok_or_else(|| BusError::Malformed {
            stream: stream.to_owned(),
            reason: format!("message {} has no `event` field", entry.id),
        })?;
        serde_json::from_str(&json).map_err(|error| BusError::Malformed {
            stream: stream.to_owned(),
            reason: error.to_string(),
        })
    }

    /// Turns entries into deliveries; an entry that is not an event is
    /// dead-lettered at once rather than blocking the group.
    async fn deliveries(
        &self,
        stream: &str,
        group: &str,
        entries: Vec<(StreamId, u32)>,
    ) -> Result<Vec<Delivery>, BusError> {
        let mut deliveries = Vec::with_capacity(entries.len());
        for (entry, attempt) in entries {
            match self.parse(stream, &entry) {
                Ok(event) => deliveries.push(Delivery {
                    event,
                    message_id: entry.id,
                    attempt,
                }),
                Err(error) => {
                    tracing::error!(stream, group, id = entry.id, %error, "dead-lettering a malformed message");
                    let mut connection = self.connection.clone();
                    let _: String = connection
                        .xadd(
                            self.key(&format!("{stream}.dead")),
                            "*",
                            &[
                                ("group", group),
                                ("id", &entry.id),
                                ("reason", &error.to_string()),
                            ],
                        )
                        .await?;
                    let _: u64 = connection
                        .xack(self.key(stream), group, &[&entry.id])
                        .await?;
                }
            }
        }
        Ok(deliveries)
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, stream: &str, event: &Event) -> Result<(), BusError> {
        let json = serde_json::to_string(event).expect("events serialize");
        let mut connection = self.connection.clone();
        let _: String = connection
            .xadd(
                self.key(stream),
                "*",
                &[("event", json.as_str()), ("kind", event.kind.as_str())],
            )
            .await?;
        Ok(())
    }

    async fn join(&self, stream: &str, group: &str) -> Result<(), BusError> {
        let mut connection = self.connection.clone();
        let created: RedisResult<String> = connection
            .xgroup_create_mkstream(self.key(stream), group, "0")
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other.map(drop).map_err(BusError::from),
        }
    }

    async fn receive(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        redeliver_after: Duration,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let key = self.key(stream);
        let mut connection = self.connection.clone();
        let deadline = Instant::now() + wait;
        loop {
            let idle_ms = u64::try_from(redeliver_after.as_millis()).unwrap_or(u64::MAX);
            let claimed: StreamAutoClaimReply = connection
                .xautoclaim_options(
                    &key,
                    group,
                    consumer,
                    idle_ms,
                    "0-0",
                    StreamAutoClaimOptions::default().count(max),
                )
                .await?;
            let mut entries = Vec::with_capacity(max);
            for entry in claimed.claimed {
                let pending: StreamPendingCountReply = connection
                    .xpending_count(&key, group, &entry.id, &entry.id, 1)
                    .await?;
                let attempt = pending.ids.first().map_or(2, |pending| {
                    u32::try_from(pending.times_delivered).unwrap_or(u32::MAX)
                });
                entries.push((entry, attempt));
            }
            if entries.len() < max {
                let read: Option<StreamReadReply> = connection
                    .xread_options(
                        &[&key],
                        &[">"],
                        &StreamReadOptions::default()
                            .group(group, consumer)
                            .count(max - entries.len()),
                    )
                    .await?;
                entries.extend(
                    read.into_iter()
                        .flat_map(|reply| reply.keys)
                        .flat_map(|stream_key| stream_key.ids)
                        .map(|entry| (entry, 1)),
                );
            }
            if !entries.is_empty() || Instant::now() >= deadline {
                return self.deliveries(stream, group, entries).await;
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    async fn ack(&self, stream: &str, group: &str, message_id: &str) -> Result<(), BusError> {
        let mut connection = self.connection.clone();
        let _: u64 = connection
            .xack(self.key(stream), group, &[message_id])
            .await?;
        Ok(())
    }

    async fn dead_letter(
        &self,
        stream: &str,
        group: &str,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), BusError> {
        let json = serde_json::to_string(&delivery.event).expect("events serialize");
        let mut connection = self.connection.clone();
        let _: String = connection
            .xadd(
                self.key(&format!("{stream}.dead")),
                "*",
                &[
                    ("event", json.as_str()),
                    ("group", group),
                    ("id", &delivery.message_id),
                    ("reason", reason),
                ],
            )
            .await?;
        self.ack(stream, group, &delivery.message_id).await
    }

    async fn trim(&self, stream: &str, older_than: OffsetDateTime) -> Result<u64, BusError> {
        let key = self.key(stream);
        let mut connection = self.connection.clone();
        if !connection.exists::<_, bool>(&key).await? {
            return Ok(0);
        }
        // Message ids start with the milliseconds they were added at.
        let cutoff_ms = u64::try_from(older_than.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut floor = (cutoff_ms, 0);
        let groups: StreamInfoGroupsReply = connection.xinfo_groups(&key).await?;
        if groups.groups.is_empty() {
            return Ok(0);
        }
        for group in groups.groups {
            // Read after the group's cursor: an acknowledgement in between
            // only lowers what the group needs.
            let oldest_pending = match connection.xpending(&key, &group.name).await? {
                StreamPendingReply::Data(pending) if pending.count > 0 => Some(pending.start_id),
                _ => None,
            };
            // Without pending messages the group needs what follows its
            // cursor; keeping the cursor's own message costs one message.
            let needed = oldest_pending.unwrap_or(group.last_delivered_id);
            floor = floor.min(parse_id(&needed));
        }
        let removed: usize = connection
            .xtrim_options(
                &key,
                &StreamTrimOptions::minid(
                    StreamTrimmingMode::Exact,
                    format!("{}-{}", floor.0, floor.1),
                ),
            )
            .await?;
        Ok(removed as u64)
    }

    async fn read_all(&self, stream: &str) -> Result<Vec<Event>, BusError> {
        let mut connection = self.connection.clone();
        let range: StreamRangeReply = connection.xrange_all(self.key(stream)).await?;
        range
            .ids
            .iter()
            .map(|entry| self.parse(stream, entry))
            .collect()
    }
}
