//! The order lifecycle, as pure functions: which status an order may move
//! to from which, and which statuses a report from dispatch moves it
//! through.
//!
//! ```text
//! Pending ─▶ Paid ─▶ Dispatched ─▶ Delivered ─▶ Returned
//!    │         │
//!    └────┬────┘
//!         ▼
//!     Cancelled
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created, not yet paid for.
    Pending,
    /// Paid for, waiting to leave the warehouse.
    Paid,
    /// On its way.
    Dispatched,
    /// Reached its customer.
    Delivered,
    /// Cancelled before dispatch: stock released, money refunded.
    Cancelled,
    /// Sent back after delivery: restocked, money refunded.
    Returned,
}

impl OrderStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Paid,
        Self::Dispatched,
        Self::Delivered,
        Self::Cancelled,
        Self::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Dispatched => "dispatched",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Returned => "returned",
        }
    }

    /// The status written `text`, as [`OrderStatus::as_str`] writes it.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// What an order created by a checkout goes through at once: it is created
/// pending and paid in the same instant, the payment having been taken
/// before the order was made.
pub const ON_CREATION: [OrderStatus; 2] = [OrderStatus::Pending, OrderStatus::Paid];

/// `to` if an order that is `from` may become `to`. Nothing ever moves to
/// `Pending`, nor out of `Cancelled` or `Returned`, nor to the status it is
/// already in.
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<OrderStatus, IllegalTransition> {
    use OrderStatus::{Cancelled, Delivered, Dispatched, Paid, Pending, Returned};
    match (from, to) {
        (Pending, Paid)
        | (Pending | Paid, Cancelled)
        | (Paid, Dispatched)
        | (Dispatched, Delivered)
        | (Delivered, Returned) => Ok(to),
        _ => Err(IllegalTransition { from, to }),
    }
}

/// What dispatch reports about a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipment {
    Dispatched,
    Delivered,
}

/// The statuses an order that is `current` goes through, in order, when
/// dispatch reports `shipment`. A delivery of an order still paid passes
/// through dispatched (the dispatch report may come late, or never).
/// Empty when the report changes nothing: the order is already there or
/// past it, or was cancelled.
pub fn shipment_steps(current: OrderStatus, shipment: Shipment) -> Vec<OrderStatus> {
    let path: &[OrderStatus] = match shipment {
        Shipment::Dispatched => &[OrderStatus::Dispatched],
        Shipment::Delivered => &[OrderStatus::Dispatched, OrderStatus::Delivered],
    };
    let mut status = current;
    let mut steps = Vec::with_capacity(path.len());
    for &step in path {
        if let Ok(next) = transition(status, step) {
            steps.push(next);
            status = next;
        }
    }
    steps
}

/// Whether an order that is `status` has left the warehouse, so a tracking
/// number belongs to it.
pub fn has_been_dispatched(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Dispatched | OrderStatus::Delivered | OrderStatus::Returned
    )
}

#[cfg(test)]
mod tests {
    use super::{OrderStatus::*, *};

    const ALLOWED: [(OrderStatus, OrderStatus); 6] = [
        (Pending, Paid),
        (Pending, Cancelled),
        (Paid, Cancelled),
        (Paid, Dispatched),
        (Dispatched, Delivered),
        (Delivered, Returned),
    ];

    #[test]
    fn every_allowed_transition_is_allowed() {
        for (from, to) in ALLOWED {
            assert_eq!(transition(from, to), Ok(to), "{from} -> {to}");
        }
    }

    #[test]
    fn every_other_transition_is_refused_naming_both_states() {
        let mut refused = 0;
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                if ALLOWED.contains(&(from, to)) {
                    continue;
                }
                let error = transition(from, to).unwrap_err();
                assert_eq!(error, IllegalTransition { from, to });
                assert_eq!(error.to_string(), format!("cannot go from {from} to {to}"));
                refused += 1;
            }
        }
        assert_eq!(refused, 36 - ALLOWED.len());
    }

    #[test]
    fn the_refusals_that_matter_to_customers() {
        for (from, to) in [
            (Dispatched, Cancelled),
            (Delivered, Cancelled),
            (Returned, Cancelled),
            (Cancelled, Cancelled),
            (Paid, Returned),
            (Dispatched, Returned),
            (Cancelled, Returned),
            (Returned, Returned),
            (Cancelled, Paid),
            (Paid, Pending),
            (Delivered, Dispatched),
        ] {
            assert!(transition(from, to).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn an_order_is_created_through_a_legal_transition() {
        assert_eq!(transition(ON_CREATION[0], ON_CREATION[1]), Ok(Paid));
    }

    #[test]
    fn statuses_read_back_what_they_write() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("shipped"), None);
    }

    #[test]
    fn dispatch_reports_move_a_paid_order_forward() {
        assert_eq!(shipment_steps(Paid, Shipment::Dispatched), [Dispatched]);
        assert_eq!(
            shipment_steps(Paid, Shipment::Delivered),
            [Dispatched, Delivered]
        );
        assert_eq!(shipment_steps(Dispatched, Shipment::Delivered), [Delivered]);
    }

    #[test]
    fn only_orders_that_left_the_warehouse_take_a_tracking_number() {
        let dispatched: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|status| has_been_dispatched(*status))
            .collect();
        assert_eq!(dispatched, [Dispatched, Delivered, Returned]);
    }

    #[test]
    fn dispatch_reports_change_nothing_once_past_or_cancelled() {
        for (status, shipment) in [
            (Dispatched, Shipment::Dispatched),
            (Delivered, Shipment::Dispatched),
            (Delivered, Shipment::Delivered),
            (Returned, Shipment::Dispatched),
            (Returned, Shipment::Delivered),
            (Cancelled, Shipment::Dispatched),
            (Cancelled, Shipment::Delivered),
            (Pending, Shipment::Dispatched),
            (Pending, Shipment::Delivered),
        ] {
            assert!(
                shipment_steps(status, shipment).is_empty(),
                "{status} + {shipment:?}"
            );
        }
    }
}
