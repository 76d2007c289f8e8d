//! What payments does after a checkout: when an order is cancelled or
//! returned (events on the orders stream), it refunds the charge and puts
//! the stock back; and the recovery worker resumes checkouts whose driver
//! died.
//!
//! Both are safe to repeat: refunds are keyed by the charge and the reason,
//! releasing a reservation twice restocks once, and a resumed saga repeats
//! only keyed calls.

use std::{sync::Arc, time::Duration};

use eshop_contracts::{EventKind, OrderCancelled, OrderReturned};
use eshop_platform::{
    events::{Event, HandlerError},
    housekeeping,
    stores::Preparation,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::saga::Saga;

/// How often the recovery worker looks for abandoned checkouts.
const RECOVERY_INTERVAL: Duration = Duration::from_millis(500);

/// Handles one event of the orders stream.
pub async fn on_order_event(saga: &Saga, event: Event) -> Result<(), HandlerError> {
    let (give_back_what, reason) = match event.kind.as_str() {
        OrderCancelled::KIND => {
            let cancelled: OrderCancelled = event
                .payload()
                .map_err(|error| HandlerError::Reject(error.to_string()))?;
            (
                GiveBack {
                    checkout_id: cancelled.checkout_id,
                    charge_id: cancelled.charge_id,
                    total_cents: cancelled.total_cents,
                },
                "cancellation",
            )
        }
        OrderReturned::KIND => {
            let returned: OrderReturned = event
                .payload()
                .map_err(|error| HandlerError::Reject(error.to_string()))?;
            (
                GiveBack {
                    checkout_id: returned.checkout_id,
                    charge_id: returned.charge_id,
                    total_cents: returned.total_cents,
                },
                "return",
            )
        }
        _ => return Ok(()),
    };
    give_back(saga, give_back_what, reason).await
}

/// What a cancelled or returned order gives back, as its event says.
struct GiveBack {
    checkout_id: Uuid,
    /// Absent only from events written before orders sent it.
    charge_id: Option<Uuid>,
    total_cents: i64,
}

/// Refunds the order's charge in full and restocks its lines. The event
/// names the charge, so this works however long ago the checkout finished
/// and was pruned; an older event without it is refunded from the
/// checkout, which is kept for the retention.
async fn give_back(saga: &Saga, order: GiveBack, reason: &str) -> Result<(), HandlerError> {
    let GiveBack {
        checkout_id,
        charge_id,
        total_cents,
    } = order;
    let (charge, amount_cents) = match charge_id {
        Some(charge) => (charge, total_cents),
        None => charge_of(saga, checkout_id).await?,
    };
    saga.downstream
        .refund(charge, amount_cents, reason)
        .await
        .map_err(|error| HandlerError::Retry(error.to_string()))?;
    saga.metrics.refunded();
    saga.downstream
        .release_reservation(checkout_id)
        .await
        .map_err(|error| HandlerError::Retry(error.to_string()))?;
    saga.metrics.released();
    tracing::info!(checkout = %checkout_id, reason, "refunded and restocked");
    Ok(())
}

/// The charge a checkout took and its amount, read from the checkout.
async fn charge_of(saga: &Saga, checkout_id: Uuid) -> Result<(Uuid, i64), HandlerError> {
    let checkout = saga
        .store
        .get(checkout_id)
        .await
        .map_err(|error| HandlerError::Retry(error.to_string()))?
        .ok_or_else(|| HandlerError::Reject(format!("no checkout {checkout_id}")))?;
    let charge = checkout
        .progress
        .charge_id
        .ok_or_else(|| HandlerError::Reject(format!("checkout {checkout_id} charged nothing")))?;
    Ok((charge, checkout.progress.total_cents()))
}

/// Resumes unfinished checkouts whose lease ran out, until the service stops.
pub async fn recover(saga: Arc<Saga>, preparation: Preparation, stopping: CancellationToken) {
    housekeeping::every(
        "abandoned checkouts resumed",
        RECOVERY_INTERVAL,
        preparation,
        stopping,
        move || {
            let saga = saga.clone();
            async move { resume_abandoned(&saga).await }
        },
    )
    .await;
}

/// Drives up to 20 unfinished checkouts whose lease ran out; answers how
/// many it took up. One that cannot move yet waits for the next round.
async fn resume_abandoned(saga: &Saga) -> Result<u64, sqlx::Error> {
    let abandoned = saga.store.recoverable(20).await?;
    for &id in &abandoned {
        tracing::info!(checkout = %id, "resuming an abandoned checkout");
        if let Err(error) = saga.drive(id).await {
            tracing::warn!(checkout = %id, %error, "resuming failed; will retry");
        }
    }
    Ok(abandoned.len() as u64)
}
