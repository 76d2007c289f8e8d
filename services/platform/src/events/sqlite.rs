//! The bus of the embedded backend: a SQLite file (`bus.sqlite3` in the data
//! directory) that every service of the shop opens, with the same semantics
//! as Redis Streams: per-group cursors, pending deliveries with owners and
//! attempt counts, redelivery of idle ones, and dead-letter streams. State
//! changes happen in `BEGIN IMMEDIATE` transactions, so several services
//! (or processes) can share the file.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;

use super::{BusError, Delivery, Event, EventBus};

/// How often an empty stream is polled while `receive` waits.
const POLL: Duration = Duration::from_millis(50);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bus_messages (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    event  TEXT NOT NULL,
    -- On dead letters: which group gave up on which message, and why.
    note   TEXT
);
CREATE INDEX IF NOT EXISTS bus_messages_stream ON bus_messages (stream, seq);
CREATE TABLE IF NOT EXISTS bus_groups (
    stream   TEXT NOT NULL,
    grp      TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, grp)
);
CREATE TABLE IF NOT EXISTS bus_pending (
    stream          TEXT NOT NULL,
    grp             TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    consumer        TEXT NOT NULL,
    delivered_at_ms INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    PRIMARY KEY (stream, grp, seq)
);
";

#[derive(Debug, Clone)]
pub struct SqliteBus {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn parse(stream: &str, json: &str) -> Result<Event, BusError> {
    serde_json::from_str(json).map_err(|error| BusError::Malformed {
        stream: stream.to_owned(),
        reason: error.to_string(),
    })
}

impl SqliteBus {
    /// The bus in `<data_dir>/bus.sqlite3`, created if missing.
    pub async fn open(data_dir: &Path) -> Result<Self, BusError> {
        let pool = crate::stores::sqlite_pool(data_dir, "bus")
            .map_err(|error| BusError::Sqlite(sqlx::Error::Io(error)))?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Self { pool })
    }

    /// One claim-then-read pass, in one write transaction.
    async fn take(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        max: usize,
        redeliver_after: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        let now = now_ms();
        let idle_ms = i64::try_from(redeliver_after.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claimed = sqlx::query(
            "UPDATE bus_pending SET consumer = $3, delivered_at_ms = $4, attempts = attempts + 1
             WHERE stream = $1 AND grp = $2 AND seq IN (
                 SELECT seq FROM bus_pending
                 WHERE stream = $1 AND grp = $2 AND delivered_at_ms <= $4 - $5
                 ORDER BY seq LIMIT $6)
             RETURNING seq, attempts",
        )
        .bind(stream)
        .bind(group)
        .bind(consumer)
        .bind(now)
        .bind(idle_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut taken: Vec<(i64, i64)> = claimed
            .iter()
            .map(|row| Ok((row.try_get("seq")?, row.try_get("attempts")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let room = limit - i64::try_from(taken.len()).unwrap_or(0);
        if room > 0 {
            let fresh: Vec<i64> = sqlx::query_scalar(
                "SELECT m.seq FROM bus_messages m JOIN bus_groups g ON g.stream = m.stream AND g.grp = $2
                 WHERE m.stream = $1 AND m.seq > g.last_seq ORDER BY m.seq LIMIT $3",
            )
            .bind(stream)
            .bind(group)
            .bind(room)
            .fetch_all(&mut *tx)
            .await?;
            for seq in &fresh {
                sqlx::query(
                    "INSERT INTO bus_pending (stream, grp, seq, consumer, delivered_at_ms, attempts)
                     VALUES ($1, $2, $3, $4, $5, 1)",
                )
                .bind(stream)
                .bind(group)
                .bind(seq)
                .bind(consumer)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(last) = fresh.last() {
                sqlx::query("UPDATE bus_groups SET last_seq = $3 WHERE stream = $1 AND grp = $2")
                    .bind(stream)
                    .bind(group)
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
            }
            taken.extend(fresh.into_iter().map(|seq| (seq, 1)));
        }
        let mut deliveries = Vec::with_capacity(taken.len());
        for (seq, attempts) in taken {
            let json: String = sqlx::query_scalar("SELECT event FROM bus_messages WHERE seq = $1")
                .bind(seq)
                .fetch_one(&mut *tx)
                .await?;
            match parse(stream, &json) {
                Ok(event) => deliveries.push(Delivery {
                    event,
                    message_id: seq.to_string(),
                    attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                }),
                Err(error) => {
                    tracing::error!(stream, group, seq, %error, "dead-lettering a malformed message");
                    move_to_dead(&mut tx, stream, group, seq, &json, &error.to_string()).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(deliveries)
    }
}

async fn move_to_dead(
    tx: &mut sqlx::SqliteConnection,
    stream: &str,
    group: &str,
    seq: i64,
    event: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO bus_messages (stream, event, note) VALUES ($1, $2, $3)")
        .bind(format!("{stream}.dead"))
        .bind(event)
        .bind(format!("group {group} gave up on message {seq}: {reason}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM bus_pending WHERE stream = $1 AND grp = $2 AND seq = $3")
        .bind(stream)
        .bind(group)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn seq_of(message_id: &str, stream: &str) -> Result<i64, BusError> {
    message_id.parse().map_err(|_| BusError::Malformed {
        stream: stream.to_owned(),
        reason: format!("{message_id} is not a message id of this bus"),
    })
}

#[async_trait]
impl EventBus for SqliteBus {
    async fn publish(&self, stream: &str, event: &Event) -> Result<(), BusError> {
        sqlx::query("INSERT INTO bus_messages (stream, event) VALUES ($1, $2)")
            .bind(stream)
            .bind(serde_json::to_string(event).expect("events serialize"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn join(&self, stream: &str, group: &str) -> Result<(), BusError> {
        sqlx::query("INSERT INTO bus_groups (stream, grp) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(stream)
            .bind(group)
            .execute(&self.pool)
            .await?;
        Ok(())
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
        let deadline = Instant::now() + wait;
        loop {
            let deliveries = self
                .take(stream, group, consumer, max, redeliver_after)
                .await?;
            if !deliveries.is_empty() || Instant::now() >= deadline {
                return Ok(deliveries);
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    async fn ack(&self, stream: &str, group: &str, message_id: &str) -> Result<(), BusError> {
        sqlx::query("DELETE FROM bus_pending WHERE stream = $1 AND grp = $2 AND seq = $3")
            .bind(stream)
            .bind(group)
            .bind(seq_of(message_id, stream)?)
            .execute(&self.pool)
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
        let seq = seq_of(&delivery.message_id, stream)?;
        let json = serde_json::to_string(&delivery.event).expect("events serialize");
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        move_to_dead(&mut tx, stream, group, seq, &json, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn trim(&self, stream: &str, older_than: OffsetDateTime) -> Result<u64, BusError> {
        // The oldest message some group still needs: its oldest pending
        // one, or the first it has not received. With no group the bound
        // is NULL and nothing matches. `occurred_at` is RFC 3339 text, which
        // sorts as time does to within a second: close enough for a
        // retention.
        let removed = sqlx::query(
            "DELETE FROM bus_messages WHERE stream = $1
             AND json_extract(event, '$.occurred_at') < $2
             AND seq < (
                 SELECT MIN(COALESCE(
                     (SELECT MIN(p.seq) FROM bus_pending p WHERE p.stream = g.stream AND p.grp = g.grp),
                     g.last_seq + 1))
                 FROM bus_groups g WHERE g.stream = $1)",
        )
        .bind(stream)
        .bind(older_than.format(&time::format_description::well_known::Rfc3339).expect("a time formats"))
        .execute(&self.pool)
        .await?;
        Ok(removed.rows_affected())
    }

    async fn read_all(&self, stream: &str) -> Result<Vec<Event>, BusError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT event FROM bus_messages WHERE stream = $1 ORDER BY seq")
                .bind(stream)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|json| parse(stream, json)).collect()
    }
}
