//! Housekeeping: the jobs a service runs every so often in the background
//! once its stores are prepared, until it stops: releasing what expired
//! (reservations, carts, failed logins) and pruning what is past its
//! retention (handled events, quotes, finished checkouts, shipments).
//!
//! A job answers how many things it removed, or an error; either is
//! logged, and a failed round is simply tried again at the next one.

use std::{fmt::Display, future::Future, time::Duration};

use time::OffsetDateTime;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::stores::Preparation;

/// How often what is past its retention (`ESHOP_RETENTION`) is looked for
/// and deleted: published outbox rows, acknowledged stream messages,
/// handled events, expired quotes, finished checkouts and shipments.
pub const PRUNE_EVERY: Duration = Duration::from_secs(5);

/// Runs `job` every `every` once `preparation` is done, until `stopping`
/// is cancelled. `what` names the job in logs ("expired quotes deleted").
pub async fn every<F, Fut, E>(
    what: &'static str,
    every: Duration,
    preparation: Preparation,
    stopping: CancellationToken,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: Display,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stopping.cancelled() => return,
        }
        if !preparation.is_done() {
            continue;
        }
        match job().await {
            Ok(0) => {}
            Ok(count) => tracing::debug!(count, "{what}"),
            Err(error) => tracing::warn!(%error, "{what}: failed; will retry"),
        }
    }
}

/// Runs `prune` every [`PRUNE_EVERY`] once `preparation` is done, until
/// `stopping` is cancelled, handing it the moment before which data is
/// past `retention`.
pub async fn prune<F, Fut, E>(
    what: &'static str,
    retention: Duration,
    preparation: Preparation,
    stopping: CancellationToken,
    mut prune: F,
) where
    F: FnMut(OffsetDateTime) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: Display,
{
    every(what, PRUNE_EVERY, preparation, stopping, move || {
        prune(OffsetDateTime::now_utc() - retention)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    };

    use super::*;

    /// Waits, for at most a minute of the test's clock, until `rounds`
    /// reaches `at_least`.
    async fn until(rounds: &AtomicU32, at_least: u32) {
        for _ in 0..600 {
            if rounds.load(Ordering::SeqCst) >= at_least {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("only {} rounds ran", rounds.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_only_once_prepared_goes_on_after_a_failure_and_stops_when_told() {
        let stopping = CancellationToken::new();
        let store_up = Arc::new(AtomicBool::new(false));
        let up = store_up.clone();
        let preparation = Preparation::start("test", stopping.clone(), move || {
            let up = up.load(Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err(std::io::Error::other("the store is away"))
                }
            }
        });
        let rounds = Arc::new(AtomicU32::new(0));
        let counted = rounds.clone();
        let running = tokio::spawn(every(
            "things removed",
            Duration::from_secs(1),
            preparation,
            stopping.clone(),
            move || {
                let round = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if round == 0 {
                        Err("the store is away")
                    } else {
                        Ok(u64::from(round))
                    }
                }
            },
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 0, "ran before preparation");

        store_up.store(true, Ordering::SeqCst);
        until(&rounds, 3).await;

        stopping.cancel();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("the job loop ends when stopped")
            .expect("the job loop does not panic");
    }
}
