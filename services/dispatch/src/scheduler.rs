//! The scheduler: a worker that moves due shipments on (scheduled ones
//! leave, dispatched ones arrive), a bounded batch per pass, until the
//! service stops. Several replicas may run it at once: each move is atomic
//! and conditional, so exactly one of them makes it.

use std::{sync::Arc, time::Duration};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{self, Move},
    routes::DispatchMetrics,
    store::DispatchStore,
};

/// Most shipments one pass moves. A full pass is followed at once by
/// another, so a backlog drains without waiting for ticks.
const BATCH: usize = 100;

/// How often due shipments are looked for: four times per the shorter
/// delay, between every 50 ms and every second, so a move happens at most
/// a quarter of its delay (or a second) late.
pub(crate) fn tick_interval(dispatch_delay: Duration, delivery_delay: Duration) -> Duration {
    (dispatch_delay.min(delivery_delay) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// What the scheduler needs.
pub(crate) struct Scheduler {
    pub(crate) store: Arc<dyn DispatchStore>,
    pub(crate) every: Duration,
    pub(crate) delivery_delay: Duration,
    pub(crate) metrics: DispatchMetrics,
}

impl Scheduler {
    /// Moves due shipments every tick until `stopping` is cancelled.
    pub(crate) async fn run(self, stopping: CancellationToken) {
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stopping.cancelled() => return,
            }
            while !stopping.is_cancelled() {
                match self
                    .store
                    .advance_due(domain::now(), BATCH, self.delivery_delay)
                    .await
                {
                    Ok(moves) => {
                        let full = moves.len() == BATCH;
                        self.record(moves);
                        if !full {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "moving due shipments failed; will retry");
                        break;
                    }
                }
            }
        }
    }

    fn record(&self, moves: Vec<Move>) {
        for moved in moves {
            match moved {
                Move::Dispatched {
                    order_id,
                    tracking_number,
                } => {
                    self.metrics.dispatched.inc();
                    tracing::info!(%order_id, tracking_number, "order dispatched");
                }
                Move::Delivered { order_id } => {
                    self.metrics.delivered.inc();
                    tracing::info!(%order_id, "order delivered");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_follows_the_shorter_delay_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(tick_interval(ms(200), ms(400)), ms(50));
        assert_eq!(tick_interval(ms(2_000), ms(800)), ms(200));
        assert_eq!(tick_interval(Duration::ZERO, ms(400)), ms(50));
        assert_eq!(
            tick_interval(Duration::from_secs(10), Duration::from_secs(20)),
            Duration::from_secs(1)
        );
    }
}
