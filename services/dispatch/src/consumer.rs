//! Dispatch's side of the orders stream: the consumer group `dispatch`
//! reads `OrderPaid` (schedule the shipment) and `OrderCancelled` (stop it,
//! or record that it came too late), and ignores the stream's other events.
//!
//! An event is acknowledged only once its effect is stored, so a crash
//! before that gets it redelivered; the store makes a redelivery change
//! nothing. The fault knob fails a share of handlings on purpose, before
//! they touch the store, with a retryable error that the bus redelivers.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use eshop_contracts::{EventKind, ORDERS_STREAM, OrderCancelled, OrderPaid};
use eshop_platform::{
    events::{self, ConsumerOptions, Event, EventBus, HandlerError},
    health::Readiness,
    settings::Rate,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::{self, Cancellation, Scheduling},
    routes::DispatchMetrics,
    store::{DispatchStore, StoreError},
};

/// Dispatch's consumer group on the orders stream.
pub(crate) const GROUP: &str = "dispatch";

/// Deliveries of one event before it is dead-lettered. Every retryable
/// failure here passes (a store out of reach, or an injected fault), so
/// an event gets many chances: at the default redelivery delay, minutes of
/// store outage; at a fault rate of 0.5, about one chance in 33 million
/// of being given up.
const MAX_ATTEMPTS: u32 = 25;

/// The order events dispatch acts on.
#[derive(Debug)]
enum OrderEvent {
    Paid(OrderPaid),
    Cancelled(OrderCancelled),
}

impl OrderEvent {
    /// The event's payload, `None` for kinds dispatch ignores, and a
    /// rejection (dead letter) for a payload that does not parse.
    fn parse(event: &Event) -> Result<Option<Self>, HandlerError> {
        let malformed =
            |error: serde_json::Error| HandlerError::Reject(format!("{}: {error}", event.kind));
        Ok(match event.kind.as_str() {
            OrderPaid::KIND => Some(Self::Paid(event.payload().map_err(malformed)?)),
            OrderCancelled::KIND => Some(Self::Cancelled(event.payload().map_err(malformed)?)),
            _ => None,
        })
    }
}

/// Handles the order events of one replica.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) store: Arc<dyn DispatchStore>,
    pub(crate) dispatch_delay: Duration,
    /// Share of handlings that fail on purpose.
    pub(crate) fault_error_rate: Rate,
    pub(crate) metrics: DispatchMetrics,
}

/// A store out of reach comes back: the event is worth another try. A
/// shipment the store cannot read will not read better later.
impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(_) => Self::Reject(error.to_string()),
            StoreError::Sqlite(_) | StoreError::Redis(_) => Self::Retry(error.to_string()),
        }
    }
}

impl Handler {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        let Some(order_event) = OrderEvent::parse(&event)? else {
            return Ok(());
        };
        if self.fault_error_rate.hits() {
            self.metrics.injected_faults.inc();
            return Err(HandlerError::Retry(format!(
                "injected fault (ESHOP_FAULT_ERROR_RATE) while handling {} {}",
                event.kind, event.id
            )));
        }
        match order_event {
            OrderEvent::Paid(paid) => self.paid(&paid, event.id).await,
            OrderEvent::Cancelled(cancelled) => self.cancelled(&cancelled, event.id).await,
        }
    }

    async fn paid(&self, paid: &OrderPaid, event_id: Uuid) -> Result<(), HandlerError> {
        let now = domain::now();
        let dispatch_at = domain::after(now, self.dispatch_delay);
        let order_id = paid.order_id;
        match self.store.schedule(order_id, now, dispatch_at).await? {
            Scheduling::Scheduled { dispatch_at } => {
                self.metrics.scheduled.inc();
                tracing::info!(%order_id, %dispatch_at, "shipment scheduled");
            }
            Scheduling::Known(status) => tracing::info!(
                %order_id,
                event = %event_id,
                status = status.as_str(),
                "the order already has a shipment; nothing scheduled"
            ),
        }
        Ok(())
    }

    async fn cancelled(
        &self,
        cancelled: &OrderCancelled,
        event_id: Uuid,
    ) -> Result<(), HandlerError> {
        let order_id = cancelled.order_id;
        match self.store.cancel(order_id, domain::now()).await? {
            Cancellation::Stopped => {
                self.metrics.cancelled.inc();
                tracing::info!(%order_id, "shipment cancelled before dispatch");
            }
            Cancellation::BeforePayment => {
                self.metrics.cancelled.inc();
                tracing::info!(%order_id, "order cancelled before its payment reached dispatch; it will not ship");
            }
            Cancellation::Late => {
                self.metrics.late_cancellations.inc();
                tracing::warn!(%order_id, "order cancelled after its shipment left; recorded and ignored");
            }
            Cancellation::Repeated => {
                tracing::info!(%order_id, event = %event_id, "cancellation seen before; nothing changed");
            }
        }
        Ok(())
    }
}

/// Consumes the orders stream with `handler` until `stopping` is cancelled,
/// trimming what every group has acknowledged after `retention`.
pub(crate) async fn consume_orders(
    bus: Arc<dyn EventBus>,
    handler: Handler,
    redeliver_after: Duration,
    retention: Duration,
    stopping: CancellationToken,
) {
    let consumer = format!("dispatch-{}", Uuid::new_v4().simple());
    let options = ConsumerOptions {
        redeliver_after,
        max_attempts: MAX_ATTEMPTS,
        retention,
        ..ConsumerOptions::default()
    };
    tracing::info!(consumer, "consuming the orders stream");
    events::consume(
        bus,
        ORDERS_STREAM,
        GROUP,
        consumer,
        options,
        stopping,
        move |event| {
            let handler = handler.clone();
            async move { handler.handle(event).await }
        },
    )
    .await;
}

/// `/readyz` check: the bus answers, and dispatch's group is on the orders
/// stream (joining is idempotent).
pub(crate) struct BusCheck(pub(crate) Arc<dyn EventBus>);

#[async_trait]
impl Readiness for BusCheck {
    fn name(&self) -> &'static str {
        "bus"
    }

    async fn check(&self) -> Result<(), String> {
        self.0
            .join(ORDERS_STREAM, GROUP)
            .await
            .map_err(|error| error.to_string())
    }
}
