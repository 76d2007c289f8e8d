//! The seam between orders and where it keeps its data: one trait, with a
//! PostgreSQL implementation (server backend) and a SQLite one (embedded).
//!
//! Both guarantee the same things: one checkout makes at most one order (a
//! `UNIQUE` constraint), an order only moves as the lifecycle allows, under
//! a lock on its row, every move is kept in its history, the events a move
//! causes are written to the outbox in the same transaction, and an event
//! from dispatch is recorded as handled in the transaction that applies it.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use eshop_platform::outbox::OutboxTable;
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{
        Line, NewOrder, Order, OrderNumber, OrderStatus, OrderSummary, OrdersSummary, Page,
        PageQuery, Payment, PaymentMethod, Shipping, StatusChange,
    },
    events::ShipmentReport,
    lifecycle::{self, IllegalTransition},
};

/// Errors of the stores are database errors; the API maps them to 503/500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// What creating an order came to.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Order),
    /// The checkout already made this order.
    Existing(Order),
}

/// What a customer's move of their order came to.
#[derive(Debug)]
pub enum MoveOutcome {
    Moved(Box<Order>),
    /// No such order, or not theirs.
    NotFound,
    Refused(IllegalTransition),
}

/// What an event from dispatch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipmentOutcome {
    /// The order went through these statuses.
    Applied(Vec<OrderStatus>),
    /// Recorded, but the order is already there or past it, or cancelled.
    Ignored(OrderStatus),
    /// This event was handled before; nothing changed.
    AlreadyHandled,
    /// There is no such order; nothing was recorded.
    UnknownOrder,
}

impl ShipmentOutcome {
    /// How `handled_events` records an event that came to this.
    fn recorded_as(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::Ignored(_) | Self::AlreadyHandled | Self::UnknownOrder => "ignored",
        }
    }
}

#[async_trait]
pub trait OrdersStore: Send + Sync {
    /// Creates the schema and runs migrations.
    async fn prepare(&self) -> StoreResult<()>;

    /// Where the outbox the relay empties is.
    fn outbox(&self) -> OutboxTable;

    /// Stores a paid order with its history and its `OrderPlaced` and
    /// `OrderPaid` events; or, when its checkout made an order already,
    /// that order.
    async fn create(&self, order: &NewOrder) -> StoreResult<CreateOutcome>;

    async fn by_checkout(&self, checkout_id: Uuid) -> StoreResult<Option<Order>>;

    /// The user's order `id`; `None` when there is none or it is another's.
    async fn order_of(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<Order>>;

    /// The user's orders, newest first.
    async fn orders_of(&self, user_id: Uuid, page: PageQuery) -> StoreResult<Page<OrderSummary>>;

    /// Moves the user's order `id` to `to` at `at`, with the event that
    /// tells others, if the lifecycle allows it.
    async fn move_order(
        &self,
        user_id: Uuid,
        id: Uuid,
        to: OrderStatus,
        at: OffsetDateTime,
    ) -> StoreResult<MoveOutcome>;

    /// Applies dispatch's report, carried by event `event_id` of `kind`, and
    /// records the event as handled, at most once per event id.
    async fn record_shipment(
        &self,
        event_id: Uuid,
        kind: &str,
        report: &ShipmentReport,
    ) -> StoreResult<ShipmentOutcome>;

    /// Counts and sums for the invariant checker, as of `now`.
    async fn summary(&self, now: OffsetDateTime) -> StoreResult<OrdersSummary>;

    /// Forgets the ids of events handled before `handled_before`; says how
    /// many. Their messages are gone from the bus by then, so none can
    /// come again.
    async fn prune_handled_events(&self, handled_before: OffsetDateTime) -> StoreResult<u64>;
}

/// What dispatch's report does to an order that is `current`: the shared
/// decision of both stores, which only write it.
#[derive(Debug)]
struct ShipmentPlan<'a> {
    /// The statuses the order goes through, each kept in its history.
    steps: Vec<OrderStatus>,
    /// Where it ends up.
    reached: OrderStatus,
    /// The tracking number to keep, if the order has none yet: only for an
    /// order that left the warehouse.
    tracking_number: Option<&'a str>,
}

impl<'a> ShipmentPlan<'a> {
    fn new(current: OrderStatus, report: &'a ShipmentReport) -> Self {
        let steps = lifecycle::shipment_steps(current, report.shipment);
        let reached = steps.last().copied().unwrap_or(current);
        Self {
            tracking_number: report
                .tracking_number
                .as_deref()
                .filter(|_| lifecycle::has_been_dispatched(reached)),
            steps,
            reached,
        }
    }

    /// Whether the order's row changes at all.
    fn changes_order(&self) -> bool {
        !self.steps.is_empty() || self.tracking_number.is_some()
    }

    /// When the order's status last changed, if it changes now.
    fn updated_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        (!self.steps.is_empty()).then_some(now)
    }

    fn outcome(self) -> ShipmentOutcome {
        if self.steps.is_empty() {
            ShipmentOutcome::Ignored(self.reached)
        } else {
            ShipmentOutcome::Applied(self.steps)
        }
    }
}

/// A status read back from a store, whose schema only admits valid ones.
fn status_from_store(text: &str) -> StoreResult<OrderStatus> {
    OrderStatus::parse(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("{text:?} is not an order status").into()))
}

/// Whole seconds from `since` to `now`; 0 when `since` is later.
fn seconds_between(since: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (now - since).whole_seconds().max(0)
}

/// The columns of `orders` that [`order_from_row`] reads.
const ORDER_COLUMNS: &str = "id, number, checkout_id, user_id, status, items_total_cents, \
    shipping_cost_cents, total_cents, ship_name, ship_line1, ship_line2, ship_city, \
    ship_postal_code, ship_country_code, ship_city_id, quote_id, estimated_days, charge_id, \
    payment_method, reservation_id, tracking_number, created_at, updated_at";

/// The columns of `orders` that [`summary_from_row`] reads, besides
/// `item_count`, which each store adds up its own way.
const SUMMARY_COLUMNS: &str = "id, number, status, total_cents, created_at, updated_at";

/// An order from a row of [`ORDER_COLUMNS`], without its lines and history.
fn order_from_row<'r, R>(row: &'r R) -> StoreResult<Order>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    OffsetDateTime: Decode<'r, R::Database> + Type<R::Database>,
{
    let method: String = row.try_get("payment_method")?;
    Ok(Order {
        id: row.try_get("id")?,
        number: OrderNumber(row.try_get("number")?),
        checkout_id: row.try_get("checkout_id")?,
        user_id: row.try_get("user_id")?,
        status: status_from_store(&row.try_get::<String, _>("status")?)?,
        lines: Vec::new(),
        items_total_cents: row.try_get("items_total_cents")?,
        shipping_cost_cents: row.try_get("shipping_cost_cents")?,
        total_cents: row.try_get("total_cents")?,
        shipping: Shipping {
            name: row.try_get("ship_name")?,
            line1: row.try_get("ship_line1")?,
            line2: row.try_get("ship_line2")?,
            city: row.try_get("ship_city")?,
            postal_code: row.try_get("ship_postal_code")?,
            country_code: row.try_get("ship_country_code")?,
            city_id: row.try_get("ship_city_id")?,
            quote_id: row.try_get("quote_id")?,
            cost_cents: row.try_get("shipping_cost_cents")?,
            estimated_days: row.try_get("estimated_days")?,
        },
        payment: Payment {
            charge_id: row.try_get("charge_id")?,
            method: PaymentMethod::parse(&method).ok_or_else(|| {
                sqlx::Error::Decode(format!("{method:?} is not a payment method").into())
            })?,
        },
        reservation_id: row.try_get("reservation_id")?,
        tracking_number: row.try_get("tracking_number")?,
        history: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A line from a row of `sku, name, quantity, unit_price_cents`.
fn line_from_row<'r, R>(row: &'r R) -> StoreResult<Line>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let quantity: i64 = row.try_get("quantity")?;
    let unit_price_cents: i64 = row.try_get("unit_price_cents")?;
    Ok(Line {
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        quantity,
        unit_price_cents,
        total_cents: quantity * unit_price_cents,
    })
}

/// A status change from a row of `status, at`.
fn change_from_row<'r, R>(row: &'r R) -> StoreResult<StatusChange>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    OffsetDateTime: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StatusChange {
        status: status_from_store(&row.try_get::<String, _>("status")?)?,
        at: row.try_get("at")?,
    })
}

/// A summary from a row of [`SUMMARY_COLUMNS`] and `item_count`.
fn summary_from_row<'r, R>(row: &'r R) -> StoreResult<OrderSummary>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    OffsetDateTime: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(OrderSummary {
        id: row.try_get("id")?,
        number: OrderNumber(row.try_get("number")?),
        status: status_from_store(&row.try_get::<String, _>("status")?)?,
        total_cents: row.try_get("total_cents")?,
        item_count: row.try_get("item_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::lifecycle::Shipment;

    fn report(shipment: Shipment, tracking_number: Option<&str>) -> ShipmentReport {
        ShipmentReport {
            order_id: Uuid::new_v4(),
            shipment,
            at: OffsetDateTime::UNIX_EPOCH,
            tracking_number: tracking_number.map(str::to_owned),
        }
    }

    #[test]
    fn a_report_that_moves_the_order_changes_its_status_and_time() {
        let dispatched = report(Shipment::Dispatched, Some("ESH-1"));
        let plan = ShipmentPlan::new(OrderStatus::Paid, &dispatched);
        assert!(plan.changes_order());
        assert_eq!(plan.tracking_number, Some("ESH-1"));
        let now = OffsetDateTime::now_utc();
        assert_eq!(plan.updated_at(now), Some(now));
        assert_eq!(
            plan.outcome(),
            ShipmentOutcome::Applied(vec![OrderStatus::Dispatched])
        );
    }

    #[test]
    fn a_late_dispatch_report_only_brings_its_tracking_number() {
        let dispatched = report(Shipment::Dispatched, Some("ESH-LATE"));
        let plan = ShipmentPlan::new(OrderStatus::Delivered, &dispatched);
        assert!(plan.changes_order());
        assert_eq!(plan.tracking_number, Some("ESH-LATE"));
        assert_eq!(plan.updated_at(OffsetDateTime::now_utc()), None);
        assert_eq!(
            plan.outcome(),
            ShipmentOutcome::Ignored(OrderStatus::Delivered)
        );
    }

    #[test]
    fn a_cancelled_order_takes_nothing_from_dispatch() {
        for shipment in [
            report(Shipment::Dispatched, Some("ESH-2")),
            report(Shipment::Delivered, None),
        ] {
            let plan = ShipmentPlan::new(OrderStatus::Cancelled, &shipment);
            assert!(!plan.changes_order(), "{shipment:?}");
            assert_eq!(
                plan.outcome(),
                ShipmentOutcome::Ignored(OrderStatus::Cancelled)
            );
        }
    }
}
