//! Orders on PostgreSQL. Moves of one order queue on its row lock
//! (`SELECT ... FOR UPDATE`), so a customer's cancel and dispatch's report
//! cannot both win; order numbers come from an identity column; the
//! summary is read in one snapshot.

use async_trait::async_trait;
use eshop_contracts::ORDERS_STREAM;
use eshop_platform::outbox::{self, OutboxTable};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    CreateOutcome, MoveOutcome, ORDER_COLUMNS, OrdersStore, SUMMARY_COLUMNS, ShipmentOutcome,
    ShipmentPlan, StoreResult, change_from_row, line_from_row, order_from_row, seconds_between,
    status_from_store, summary_from_row,
};
use crate::{
    domain::{
        NewOrder, Order, OrderStatus, OrderSummary, OrdersByStatus, OrdersSummary, Page, PageQuery,
    },
    events::{self, OrderFacts, ShipmentReport},
    lifecycle::{self, ON_CREATION},
};

const SCHEMA: &str = "orders";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresOrders {
    pool: PgPool,
}

impl PostgresOrders {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The order whose `column` is `value` (and, given `user_id`, that is the
/// user's), with its lines and history.
async fn find(
    connection: &mut PgConnection,
    column: &'static str,
    value: Uuid,
    user_id: Option<Uuid>,
) -> StoreResult<Option<Order>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE {column} = $1 AND ($2::uuid IS NULL OR user_id = $2)"
    )))
    .bind(value)
    .bind(user_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut order = order_from_row(&row)?;
    order.lines = sqlx::query(
        "SELECT sku, name, quantity, unit_price_cents FROM order_lines
         WHERE order_id = $1 ORDER BY position",
    )
    .bind(order.id)
    .fetch_all(&mut *connection)
    .await?
    .iter()
    .map(line_from_row)
    .collect::<StoreResult<_>>()?;
    order.history =
        sqlx::query("SELECT status, at FROM order_history WHERE order_id = $1 ORDER BY id")
            .bind(order.id)
            .fetch_all(&mut *connection)
            .await?
            .iter()
            .map(change_from_row)
            .collect::<StoreResult<_>>()?;
    Ok(Some(order))
}

/// The order `id`, which the caller knows exists.
async fn reload(connection: &mut PgConnection, id: Uuid) -> StoreResult<Order> {
    find(connection, "id", id, None)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

async fn add_history(
    connection: &mut PgConnection,
    id: Uuid,
    status: OrderStatus,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO order_history (order_id, status, at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(status.as_str())
        .bind(at)
        .execute(connection)
        .await?;
    Ok(())
}

#[async_trait]
impl OrdersStore for PostgresOrders {
    async fn prepare(&self) -> StoreResult<()> {
        eshop_platform::stores::prepare_postgres(&self.pool, SCHEMA, &MIGRATOR).await
    }

    fn outbox(&self) -> OutboxTable {
        OutboxTable::Postgres(self.pool.clone())
    }

    async fn create(&self, order: &NewOrder) -> StoreResult<CreateOutcome> {
        let mut tx = self.pool.begin().await?;
        let [.., status] = ON_CREATION;
        let inserted = sqlx::query(
            "INSERT INTO orders (id, checkout_id, user_id, status, items_total_cents,
                 shipping_cost_cents, total_cents, ship_name, ship_line1, ship_line2, ship_city,
                 ship_postal_code, ship_country_code, ship_city_id, quote_id, estimated_days,
                 charge_id, payment_method, reservation_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $20)
             ON CONFLICT (checkout_id) DO NOTHING",
        )
        .bind(order.id)
        .bind(order.checkout_id)
        .bind(order.user_id)
        .bind(status.as_str())
        .bind(order.items_total_cents)
        .bind(order.shipping.cost_cents)
        .bind(order.total_cents)
        .bind(&order.shipping.name)
        .bind(&order.shipping.line1)
        .bind(&order.shipping.line2)
        .bind(&order.shipping.city)
        .bind(&order.shipping.postal_code)
        .bind(&order.shipping.country_code)
        .bind(&order.shipping.city_id)
        .bind(order.shipping.quote_id)
        .bind(order.shipping.estimated_days)
        .bind(order.payment.charge_id)
        .bind(order.payment.method.as_str())
        .bind(order.reservation_id)
        .bind(order.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // The checkout made its order already (perhaps a moment ago, in
            // a transaction this insert waited for).
            let existing = find(&mut tx, "checkout_id", order.checkout_id, None).await?;
            tx.rollback().await?;
            return existing
                .map(CreateOutcome::Existing)
                .ok_or(sqlx::Error::RowNotFound);
        }
        for (position, line) in (0_i32..).zip(&order.lines) {
            sqlx::query(
                "INSERT INTO order_lines (order_id, position, sku, name, quantity, unit_price_cents)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(order.id)
            .bind(position)
            .bind(&line.sku)
            .bind(&line.name)
            .bind(line.quantity)
            .bind(line.unit_price_cents)
            .execute(&mut *tx)
            .await?;
        }
        for status in ON_CREATION {
            add_history(&mut tx, order.id, status, order.created_at).await?;
        }
        for event in events::on_creation(order) {
            outbox::enqueue_postgres(&mut tx, ORDERS_STREAM, &event).await?;
        }
        let created = reload(&mut tx, order.id).await?;
        tx.commit().await?;
        Ok(CreateOutcome::Created(created))
    }

    async fn by_checkout(&self, checkout_id: Uuid) -> StoreResult<Option<Order>> {
        let mut connection = self.pool.acquire().await?;
        find(&mut connection, "checkout_id", checkout_id, None).await
    }

    async fn order_of(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<Order>> {
        let mut connection = self.pool.acquire().await?;
        find(&mut connection, "id", id, Some(user_id)).await
    }

    async fn orders_of(&self, user_id: Uuid, page: PageQuery) -> StoreResult<Page<OrderSummary>> {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS},
                 (SELECT COALESCE(sum(quantity), 0) FROM order_lines l WHERE l.order_id = o.id)::bigint
                     AS item_count
             FROM orders o WHERE user_id = $1
             ORDER BY number DESC LIMIT $2 OFFSET $3"
        )))
        .bind(user_id)
        .bind(i64::from(page.per_page))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page {
            items: rows
                .iter()
                .map(summary_from_row)
                .collect::<StoreResult<_>>()?,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    async fn move_order(
        &self,
        user_id: Uuid,
        id: Uuid,
        to: OrderStatus,
        at: OffsetDateTime,
    ) -> StoreResult<MoveOutcome> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT checkout_id, charge_id, status, total_cents FROM orders
             WHERE id = $1 AND user_id = $2 FOR UPDATE",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(MoveOutcome::NotFound);
        };
        let from = status_from_store(row.try_get("status")?)?;
        if let Err(refused) = lifecycle::transition(from, to) {
            tx.rollback().await?;
            return Ok(MoveOutcome::Refused(refused));
        }
        sqlx::query("UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(to.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        add_history(&mut tx, id, to, at).await?;
        let facts = OrderFacts {
            order_id: id,
            user_id,
            checkout_id: row.try_get("checkout_id")?,
            charge_id: row.try_get("charge_id")?,
            total_cents: row.try_get("total_cents")?,
        };
        if let Some(event) = events::on_transition(facts, to, at) {
            outbox::enqueue_postgres(&mut tx, ORDERS_STREAM, &event).await?;
        }
        let moved = reload(&mut tx, id).await?;
        tx.commit().await?;
        Ok(MoveOutcome::Moved(Box::new(moved)))
    }

    async fn record_shipment(
        &self,
        event_id: Uuid,
        kind: &str,
        report: &ShipmentReport,
    ) -> StoreResult<ShipmentOutcome> {
        let mut tx = self.pool.begin().await?;
        // The order's lock first: a redelivery handled concurrently waits
        // here, then finds the event recorded below.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM orders WHERE id = $1 FOR UPDATE")
                .bind(report.order_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(status) = status else {
            return Ok(ShipmentOutcome::UnknownOrder);
        };
        let handled: Option<Uuid> =
            sqlx::query_scalar("SELECT event_id FROM handled_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await?;
        if handled.is_some() {
            tx.rollback().await?;
            return Ok(ShipmentOutcome::AlreadyHandled);
        }
        let plan = ShipmentPlan::new(status_from_store(&status)?, report);
        let now = crate::domain::now();
        for step in &plan.steps {
            add_history(&mut tx, report.order_id, *step, report.at).await?;
        }
        if plan.changes_order() {
            sqlx::query(
                "UPDATE orders SET status = $2, updated_at = COALESCE($3, updated_at),
                     tracking_number = COALESCE(tracking_number, $4)
                 WHERE id = $1",
            )
            .bind(report.order_id)
            .bind(plan.reached.as_str())
            .bind(plan.updated_at(now))
            .bind(plan.tracking_number)
            .execute(&mut *tx)
            .await?;
        }
        let outcome = plan.outcome();
        sqlx::query(
            "INSERT INTO handled_events (event_id, kind, order_id, outcome, handled_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event_id)
        .bind(kind)
        .bind(report.order_id)
        .bind(outcome.recorded_as())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn prune_handled_events(&self, handled_before: OffsetDateTime) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM handled_events WHERE handled_at < $1")
            .bind(handled_before)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn summary(&self, now: OffsetDateTime) -> StoreResult<OrdersSummary> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let mut orders_by_status = OrdersByStatus::default();
        for row in sqlx::query("SELECT status, count(*) AS orders FROM orders GROUP BY status")
            .fetch_all(&mut *tx)
            .await?
        {
            orders_by_status.set(
                status_from_store(row.try_get("status")?)?,
                row.try_get("orders")?,
            );
        }
        let paid_total_cents: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(total_cents), 0)::bigint FROM orders
             WHERE status IN ('paid', 'dispatched', 'delivered')",
        )
        .fetch_one(&mut *tx)
        .await?;
        let duplicate_checkouts: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM
                 (SELECT checkout_id FROM orders GROUP BY checkout_id HAVING count(*) > 1) AS d",
        )
        .fetch_one(&mut *tx)
        .await?;
        let oldest_pending: Option<OffsetDateTime> = sqlx::query_scalar(
            "SELECT created_at FROM orders WHERE status = 'pending' ORDER BY number LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OrdersSummary {
            orders_by_status,
            paid_total_cents,
            duplicate_checkouts,
            oldest_pending_seconds: oldest_pending.map_or(0, |since| seconds_between(since, now)),
        })
    }
}
