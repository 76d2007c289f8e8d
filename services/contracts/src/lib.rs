//! The contracts between services on the event bus: which streams exist,
//! which events travel on them, and what each event carries.
//!
//! An event's kind (the `kind` of the bus envelope) is the name of its
//! payload type, e.g. `OrderPaid`. Producers own their events: orders
//! publishes on [`ORDERS_STREAM`], dispatch on [`DISPATCH_STREAM`]. Payloads
//! only ever gain optional fields, so old consumers keep working.
//!
//! | event | stream | producer | consumers |
//! |---|---|---|---|
//! | [`OrderPlaced`] | orders | orders | — |
//! | [`OrderPaid`] | orders | orders | dispatch |
//! | [`OrderCancelled`] | orders | orders | payments (refund, release stock), dispatch (stop the shipment) |
//! | [`OrderReturned`] | orders | orders | payments (refund, restock) |
//! | [`OrderDispatched`] | dispatch | dispatch | orders |
//! | [`OrderDelivered`] | dispatch | dispatch | orders |

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Events about orders, published by orders.
pub const ORDERS_STREAM: &str = "orders";
/// Events about shipments, published by dispatch.
pub const DISPATCH_STREAM: &str = "dispatch";

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// Where an order goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub city: String,
    pub country_code: String,
    pub estimated_days: i64,
}

/// An order was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    /// The checkout that created it; one checkout makes at most one order.
    pub checkout_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
}

/// An order was paid for and is ready to ship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub checkout_id: Uuid,
    pub total_cents: i64,
    pub destination: Destination,
}

/// An order was cancelled before dispatch: its stock goes back and its
/// money is refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub checkout_id: Uuid,
    /// The wallet's charge to refund, so that the refund needs nothing
    /// that payments may have pruned. Absent from events written before
    /// it was added; payments then reads it from the checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<Uuid>,
    pub total_cents: i64,
}

/// A delivered order was sent back: its stock goes back and its money is
/// refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReturned {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub checkout_id: Uuid,
    /// As [`OrderCancelled::charge_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<Uuid>,
    pub total_cents: i64,
}

/// An order left the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDispatched {
    pub order_id: Uuid,
    pub tracking_number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub dispatched_at: OffsetDateTime,
}

/// An order reached its customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDelivered {
    pub order_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub delivered_at: OffsetDateTime,
}

/// The kind of an event: the name of its payload type.
pub trait EventKind {
    const KIND: &'static str;
}

macro_rules! kinds {
    ($($event:ident),* $(,)?) => {
        $(impl EventKind for $event {
            const KIND: &'static str = stringify!($event);
        })*
    };
}

kinds!(
    OrderPlaced,
    OrderPaid,
    OrderCancelled,
    OrderReturned,
    OrderDispatched,
    OrderDelivered,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_kind_is_its_type_name() {
        assert_eq!(OrderPaid::KIND, "OrderPaid");
        assert_eq!(OrderDelivered::KIND, "OrderDelivered");
    }

    #[test]
    fn payloads_read_back_what_they_wrote() {
        let dispatched = OrderDispatched {
            order_id: Uuid::new_v4(),
            tracking_number: "ESH-1".to_owned(),
            dispatched_at: OffsetDateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&dispatched).unwrap();
        assert_eq!(json["dispatched_at"], "1970-01-01T00:00:00Z");
        assert_eq!(
            serde_json::from_value::<OrderDispatched>(json).unwrap(),
            dispatched
        );
    }

    #[test]
    fn a_cancellation_written_before_it_named_the_charge_still_reads() {
        let order_id = Uuid::new_v4();
        let older = serde_json::json!({
            "order_id": order_id,
            "user_id": order_id,
            "checkout_id": order_id,
            "total_cents": 4_999,
        });
        let cancelled: OrderCancelled = serde_json::from_value(older.clone()).unwrap();
        assert_eq!(cancelled.charge_id, None);
        let returned: OrderReturned = serde_json::from_value(older).unwrap();
        assert_eq!(returned.charge_id, None);
    }
}
