//! Dispatch's values: a shipment and its statuses, the outcomes of the
//! store's operations, tracking numbers, the events a move emits, and the
//! millisecond clock both stores keep.
//!
//! A shipment only moves forward: `scheduled -> dispatched -> delivered`,
//! or `scheduled -> cancelled`. `delivered` and `cancelled` are final.

use std::time::Duration;

use eshop_contracts::{EventKind, OrderDelivered, OrderDispatched};
use eshop_platform::events::Event;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a shipment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Paid for; waits until `dispatch_at` to leave.
    Scheduled,
    /// On its way; `tracking_number` follows it.
    Dispatched,
    /// With its customer.
    Delivered,
    /// Stopped before it left: it is never dispatched.
    Cancelled,
}

impl ShipmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Dispatched => "dispatched",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status a store wrote with [`Self::as_str`].
    pub(crate) fn from_store(text: &str) -> Option<Self> {
        match text {
            "scheduled" => Some(Self::Scheduled),
            "dispatched" => Some(Self::Dispatched),
            "delivered" => Some(Self::Delivered),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A paid order on its way to its customer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Shipment {
    pub order_id: Uuid,
    pub status: ShipmentStatus,
    /// The carrier's number, from dispatch on; `null` before.
    #[schema(example = "ESH-7K3Q-M2XD-9PLA")]
    pub tracking_number: Option<String>,
    /// When the payment was taken in; `null` for an order cancelled before
    /// its payment reached dispatch.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_at: Option<OffsetDateTime>,
    /// When it is due to leave (`scheduled_at` plus the dispatch delay).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispatch_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispatched_at: Option<OffsetDateTime>,
    /// When it is due to arrive (`dispatched_at` plus the delivery delay).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deliver_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<OffsetDateTime>,
    /// When a cancellation stopped it; only when `cancelled`.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<OffsetDateTime>,
    /// When a cancellation arrived after it had left, and was ignored.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub late_cancellation_at: Option<OffsetDateTime>,
}

/// How many shipments are in each status, for invariant checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ShipmentSummary {
    pub scheduled: u64,
    pub dispatched: u64,
    pub delivered: u64,
    pub cancelled: u64,
    /// Shipments that had left when their order was cancelled; they are
    /// also counted under their status.
    pub late_cancellations: u64,
    /// Every shipment, whatever its status.
    pub total: u64,
}

/// What scheduling a paid order's shipment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// A new shipment, due to leave at `dispatch_at`.
    Scheduled { dispatch_at: OffsetDateTime },
    /// The order already had a shipment (this payment was seen before, or
    /// the order was cancelled first); nothing changed.
    Known(ShipmentStatus),
}

/// What a cancellation did to an order's shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// It was scheduled; it is cancelled and will never leave.
    Stopped,
    /// No payment had reached dispatch; the order is recorded as cancelled,
    /// so a payment that arrives later ships nothing.
    BeforePayment,
    /// It had already left; the cancellation is recorded and ignored.
    Late,
    /// This cancellation was already handled; nothing changed.
    Repeated,
}

/// A move the scheduler made, with the event it emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    Dispatched {
        order_id: Uuid,
        tracking_number: String,
    },
    Delivered {
        order_id: Uuid,
    },
}

/// The time as both stores keep it: whole milliseconds, so what the API
/// shows, what an event carries and what is stored are the same instant.
pub(crate) fn now() -> OffsetDateTime {
    from_epoch_ms(epoch_ms(OffsetDateTime::now_utc()))
}

/// Milliseconds since the epoch.
pub(crate) fn epoch_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant `ms` milliseconds after the epoch.
pub(crate) fn from_epoch_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `at` plus `delay`, to the millisecond.
pub(crate) fn after(at: OffsetDateTime, delay: Duration) -> OffsetDateTime {
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    from_epoch_ms(epoch_ms(at).saturating_add(delay_ms))
}

/// Crockford's base 32: no I, L, O or U to misread.
const TRACKING_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh tracking number, `ESH-XXXX-XXXX-XXXX`: 60 random bits.
pub(crate) fn tracking_number() -> String {
    let mut bits = Uuid::new_v4().as_u64_pair().1;
    let mut number = String::from("ESH");
    for index in 0..12 {
        if index % 4 == 0 {
            number.push('-');
        }
        number.push(char::from(TRACKING_ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    number
}

/// The `OrderDispatched` event of a shipment that left at `at`.
pub(crate) fn dispatched_event(order_id: Uuid, tracking_number: &str, at: OffsetDateTime) -> Event {
    let payload = OrderDispatched {
        order_id,
        tracking_number: tracking_number.to_owned(),
        dispatched_at: at,
    };
    Event {
        occurred_at: at,
        ..Event::new(OrderDispatched::KIND, &payload)
    }
}

/// The `OrderDelivered` event of a shipment that arrived at `at`.
pub(crate) fn delivered_event(order_id: Uuid, at: OffsetDateTime) -> Event {
    let payload = OrderDelivered {
        order_id,
        delivered_at: at,
    };
    Event {
        occurred_at: at,
        ..Event::new(OrderDelivered::KIND, &payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_are_readable_and_differ() {
        let first = tracking_number();
        assert_eq!(first.len(), "ESH-XXXX-XXXX-XXXX".len());
        assert!(first.starts_with("ESH-"), "{first}");
        assert!(
            first.split('-').skip(1).all(|group| group.len() == 4
                && group.bytes().all(|byte| TRACKING_ALPHABET.contains(&byte))),
            "{first}"
        );
        assert_ne!(first, tracking_number());
    }

    #[test]
    fn times_are_kept_to_the_millisecond() {
        let at = now();
        assert_eq!(at.nanosecond() % 1_000_000, 0);
        assert_eq!(from_epoch_ms(epoch_ms(at)), at);
        assert_eq!(
            after(at, Duration::from_micros(1_500)),
            from_epoch_ms(epoch_ms(at) + 1)
        );
    }

    #[test]
    fn an_event_occurs_when_its_move_happened() {
        let at = from_epoch_ms(1_700_000_000_123);
        let event = dispatched_event(Uuid::nil(), "ESH-1", at);
        assert_eq!(event.kind, "OrderDispatched");
        assert_eq!(event.occurred_at, at);
        let payload: OrderDispatched = event.payload().unwrap();
        assert_eq!(payload.dispatched_at, at);
        assert_eq!(delivered_event(Uuid::nil(), at).kind, "OrderDelivered");
    }
}
