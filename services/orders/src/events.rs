//! What orders says on the bus and what it hears.
//!
//! Out: `OrderPlaced` and `OrderPaid` when a checkout makes an order,
//! `OrderCancelled` and `OrderReturned` when its customer cancels or returns
//! it. The stores write them to the outbox in the transaction that changes
//! the order; the relay publishes them on the `orders` stream.
//!
//! In: `OrderDispatched` and `OrderDelivered` from the `dispatch` stream.
//! [`handle`] moves the order on, recording the event's id in the same
//! transaction, so a redelivered event changes nothing.

use std::time::Duration;

use eshop_contracts::{
    Destination, EventKind, OrderCancelled, OrderDelivered, OrderDispatched, OrderLine, OrderPaid,
    OrderPlaced, OrderReturned,
};
use eshop_platform::events::{Event, HandlerError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{MAX_TRACKING_NUMBER_CHARS, NewOrder, OrderStatus},
    lifecycle::Shipment,
    routes::OrdersMetrics,
    store::{OrdersStore, ShipmentOutcome},
};

/// The consumer group orders reads the dispatch stream in.
pub const GROUP: &str = "orders";

/// The events of a new order: `OrderPlaced`, then `OrderPaid`.
///
/// The outbox publishes oldest first, to the microsecond; `OrderPaid` is
/// stamped one microsecond after `OrderPlaced` so it can never overtake it.
pub(crate) fn on_creation(order: &NewOrder) -> [Event; 2] {
    let placed = OrderPlaced {
        order_id: order.id,
        user_id: order.user_id,
        checkout_id: order.checkout_id,
        lines: order
            .lines
            .iter()
            .map(|line| OrderLine {
                sku: line.sku.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
                unit_price_cents: line.unit_price_cents,
            })
            .collect(),
        total_cents: order.total_cents,
    };
    let paid = OrderPaid {
        order_id: order.id,
        user_id: order.user_id,
        checkout_id: order.checkout_id,
        total_cents: order.total_cents,
        destination: Destination {
            city: order.shipping.city.clone(),
            country_code: order.shipping.country_code.clone(),
            estimated_days: order.shipping.estimated_days,
        },
    };
    [
        Event {
            occurred_at: order.created_at,
            ..Event::new(OrderPlaced::KIND, &placed)
        },
        Event {
            occurred_at: order.created_at + Duration::from_micros(1),
            ..Event::new(OrderPaid::KIND, &paid)
        },
    ]
}

/// What the stores know of an order when its customer moves it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderFacts {
    pub(crate) order_id: Uuid,
    pub(crate) user_id: Uuid,
    pub(crate) checkout_id: Uuid,
    pub(crate) charge_id: Uuid,
    pub(crate) total_cents: i64,
}

/// The event that tells others an order became `status` at `at`, if they
/// need telling: payments refunds cancelled and returned orders and puts
/// their stock back.
pub(crate) fn on_transition(
    order: OrderFacts,
    status: OrderStatus,
    at: OffsetDateTime,
) -> Option<Event> {
    let event = match status {
        OrderStatus::Cancelled => Event::new(
            OrderCancelled::KIND,
            &OrderCancelled {
                order_id: order.order_id,
                user_id: order.user_id,
                checkout_id: order.checkout_id,
                charge_id: Some(order.charge_id),
                total_cents: order.total_cents,
            },
        ),
        OrderStatus::Returned => Event::new(
            OrderReturned::KIND,
            &OrderReturned {
                order_id: order.order_id,
                user_id: order.user_id,
                checkout_id: order.checkout_id,
                charge_id: Some(order.charge_id),
                total_cents: order.total_cents,
            },
        ),
        OrderStatus::Pending
        | OrderStatus::Paid
        | OrderStatus::Dispatched
        | OrderStatus::Delivered => return None,
    };
    Some(Event {
        occurred_at: at,
        ..event
    })
}

/// A report from dispatch, read from its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentReport {
    pub order_id: Uuid,
    pub shipment: Shipment,
    /// When it happened, as dispatch says.
    pub at: OffsetDateTime,
    /// Only with a dispatch.
    pub tracking_number: Option<String>,
}

/// The report `event` carries; `None` for kinds orders does not follow.
fn report(event: &Event) -> Result<Option<ShipmentReport>, HandlerError> {
    let malformed = |error: serde_json::Error| {
        HandlerError::Reject(format!("malformed {}: {error}", event.kind))
    };
    match event.kind.as_str() {
        OrderDispatched::KIND => {
            let dispatched: OrderDispatched = event.payload().map_err(malformed)?;
            let tracking_number = dispatched.tracking_number.trim();
            let length = tracking_number.chars().count();
            if length == 0 || length > MAX_TRACKING_NUMBER_CHARS {
                return Err(HandlerError::Reject(format!(
                    "a tracking number is 1 to {MAX_TRACKING_NUMBER_CHARS} characters, not {length}"
                )));
            }
            Ok(Some(ShipmentReport {
                order_id: dispatched.order_id,
                shipment: Shipment::Dispatched,
                at: dispatched.dispatched_at,
                tracking_number: Some(tracking_number.to_owned()),
            }))
        }
        OrderDelivered::KIND => {
            let delivered: OrderDelivered = event.payload().map_err(malformed)?;
            Ok(Some(ShipmentReport {
                order_id: delivered.order_id,
                shipment: Shipment::Delivered,
                at: delivered.delivered_at,
                tracking_number: None,
            }))
        }
        _ => Ok(None),
    }
}

/// Handles one event of the dispatch stream. Kinds orders does not follow
/// are acknowledged and left alone; a malformed event or one about an order
/// that does not exist is dead-lettered; a store failure is retried.
pub(crate) async fn handle(
    store: &dyn OrdersStore,
    metrics: &OrdersMetrics,
    event: Event,
) -> Result<(), HandlerError> {
    let handled = apply(store, metrics, &event).await;
    metrics.event(match &handled {
        Ok(outcome) => outcome,
        Err(HandlerError::Reject(_)) => "rejected",
        Err(HandlerError::Retry(_)) => "retried",
    });
    handled.map(drop)
}

/// Applies `event`; returns what it came to, for the metrics.
async fn apply(
    store: &dyn OrdersStore,
    metrics: &OrdersMetrics,
    event: &Event,
) -> Result<&'static str, HandlerError> {
    let Some(report) = report(event)? else {
        tracing::debug!(kind = event.kind, event = %event.id, "not an event orders follows");
        return Ok("skipped");
    };
    let outcome = store
        .record_shipment(event.id, &event.kind, &report)
        .await
        .map_err(|error| HandlerError::Retry(format!("recording {}: {error}", event.kind)))?;
    let order = report.order_id;
    match outcome {
        ShipmentOutcome::Applied(steps) => {
            for status in &steps {
                metrics.transition(*status);
            }
            tracing::info!(%order, kind = event.kind, event = %event.id, ?steps, "order moved on");
            Ok("applied")
        }
        ShipmentOutcome::Ignored(status) => {
            tracing::info!(%order, %status, kind = event.kind, event = %event.id, "event changes nothing; recorded");
            Ok("ignored")
        }
        ShipmentOutcome::AlreadyHandled => {
            tracing::info!(%order, kind = event.kind, event = %event.id, "event already handled");
            Ok("duplicate")
        }
        ShipmentOutcome::UnknownOrder => {
            Err(HandlerError::Reject(format!("there is no order {order}")))
        }
    }
}
