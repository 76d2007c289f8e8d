-- Shipments on SQLite (embedded backend). Times are milliseconds since the
-- epoch. `due_at` is when the shipment's next move is due (its dispatch_at,
-- then its deliver_at); NULL once it has none left.
CREATE TABLE shipments (
    order_id             BLOB PRIMARY KEY,
    status               TEXT NOT NULL
                         CHECK (status IN ('scheduled', 'dispatched', 'delivered', 'cancelled')),
    tracking_number      TEXT,
    scheduled_at         INTEGER,
    dispatch_at          INTEGER,
    dispatched_at        INTEGER,
    deliver_at           INTEGER,
    delivered_at         INTEGER,
    cancelled_at         INTEGER,
    late_cancellation_at INTEGER,
    due_at               INTEGER
);
CREATE INDEX shipments_due ON shipments (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX shipments_status ON shipments (status);

-- The transactional outbox (see eshop_platform::outbox): a move writes its
-- event here in its own transaction, and the relay publishes it.
CREATE TABLE outbox (
    id           BLOB PRIMARY KEY,
    stream       TEXT NOT NULL,
    event        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
