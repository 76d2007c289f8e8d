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
    stores::Preparation,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::saga::Saga;

/// How often the recovery worker looks for abandoned checkouts.
const RECOVERY_INTERVAL: Duration = Duration::from_millis(500);

/// Handles one event of the orders stream.
pub async fn on_order_event(saga: &Saga, event: Event) -> Result<(), HandlerError> {
    let (checkout, reason) = match event.kind.as_str() {
        OrderCancelled::KIND => {
            let cancelled: OrderCancelled = event
                .payload()
                .map_err(|error| HandlerError::Reject(error.to_string()))?;
            (cancelled.checkout_id, "cancellation")
        }
        OrderReturned::KIND => {
            let returned: OrderReturned = event
                .payload()
                .map_err(|error| HandlerError::Reject(error.to_string()))?;
            (returned.checkout_id, "return")
        }
        _ => return Ok(()),
    };
    give_back(saga, checkout, reason).await
}

/// Refunds a completed checkout's charge in full and restocks its lines.
async fn give_back(saga: &Saga, checkout_id: Uuid, reason: &str) -> Result<(), HandlerError> {
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
    saga.downstream
        .refund(charge, checkout.progress.total_cents(), reason)
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

/// Resumes unfinished checkouts whose lease ran out, until the service stops.
pub async fn recover(saga: Arc<Saga>, preparation: Preparation, stopping: CancellationToken) {
    let mut ticks = tokio::time::interval(RECOVERY_INTERVAL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stopping.cancelled() => return,
        }
        if !preparation.is_done() {
            continue;
        }
        let abandoned = match saga.store.recoverable(20).await {
            Ok(abandoned) => abandoned,
            Err(error) => {
                tracing::warn!(%error, "cannot look for abandoned checkouts");
                continue;
            }
        };
        for id in abandoned {
            tracing::info!(checkout = %id, "resuming an abandoned checkout");
            if let Err(error) = saga.drive(id).await {
                tracing::warn!(checkout = %id, %error, "resuming failed; will retry");
            }
        }
    }
}
