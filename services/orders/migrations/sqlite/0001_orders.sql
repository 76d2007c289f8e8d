-- Orders on SQLite (embedded backend). Same guarantees as on PostgreSQL;
-- order numbers are given in sequence by the write transaction that makes
-- the order, which holds SQLite's one write lock.
CREATE TABLE orders (
    id                  BLOB PRIMARY KEY,
    number              INTEGER NOT NULL UNIQUE,
    checkout_id         BLOB NOT NULL UNIQUE,
    user_id             BLOB NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                            ('pending', 'paid', 'dispatched', 'delivered', 'cancelled', 'returned')),
    items_total_cents   INTEGER NOT NULL CHECK (items_total_cents > 0),
    shipping_cost_cents INTEGER NOT NULL CHECK (shipping_cost_cents >= 0),
    total_cents         INTEGER NOT NULL CHECK (total_cents = items_total_cents + shipping_cost_cents),
    ship_name           TEXT NOT NULL,
    ship_line1          TEXT NOT NULL,
    ship_line2          TEXT,
    ship_city           TEXT NOT NULL,
    ship_postal_code    TEXT NOT NULL,
    ship_country_code   TEXT NOT NULL,
    ship_city_id        TEXT NOT NULL,
    quote_id            BLOB NOT NULL,
    estimated_days      INTEGER NOT NULL CHECK (estimated_days >= 0),
    charge_id           BLOB NOT NULL,
    payment_method      TEXT NOT NULL CHECK (payment_method IN ('wallet', 'card')),
    reservation_id      BLOB NOT NULL,
    tracking_number     TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX orders_of_user ON orders (user_id, number DESC);
CREATE INDEX orders_by_status ON orders (status, number);

CREATE TABLE order_lines (
    order_id         BLOB NOT NULL REFERENCES orders (id),
    position         INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
    PRIMARY KEY (order_id, position),
    UNIQUE (order_id, sku)
);

-- Every status an order took, in order.
CREATE TABLE order_history (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BLOB NOT NULL REFERENCES orders (id),
    status   TEXT NOT NULL CHECK (status IN
                 ('pending', 'paid', 'dispatched', 'delivered', 'cancelled', 'returned')),
    at       TEXT NOT NULL
);
CREATE INDEX order_history_of_order ON order_history (order_id, id);

-- Events from other services, recorded in the transaction that applies
-- them: a redelivered event finds its id here and changes nothing.
CREATE TABLE handled_events (
    event_id   BLOB PRIMARY KEY,
    kind       TEXT NOT NULL,
    order_id   BLOB NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored')),
    handled_at TEXT NOT NULL
);

-- The transactional outbox (see eshop_platform::outbox).
CREATE TABLE outbox (
    id           BLOB PRIMARY KEY,
    stream       TEXT NOT NULL,
    event        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
