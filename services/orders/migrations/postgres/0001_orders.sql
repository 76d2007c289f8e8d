-- Orders on PostgreSQL. One checkout makes at most one order (UNIQUE), a
-- status is always one of the lifecycle's, and the total is always the
-- items plus shipping.
CREATE TABLE orders (
    id                  uuid PRIMARY KEY,
    number              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    checkout_id         uuid NOT NULL UNIQUE,
    user_id             uuid NOT NULL,
    status              text NOT NULL CHECK (status IN
                            ('pending', 'paid', 'dispatched', 'delivered', 'cancelled', 'returned')),
    items_total_cents   bigint NOT NULL CHECK (items_total_cents > 0),
    shipping_cost_cents bigint NOT NULL CHECK (shipping_cost_cents >= 0),
    total_cents         bigint NOT NULL CHECK (total_cents = items_total_cents + shipping_cost_cents),
    ship_name           text NOT NULL,
    ship_line1          text NOT NULL,
    ship_line2          text,
    ship_city           text NOT NULL,
    ship_postal_code    text NOT NULL,
    ship_country_code   text NOT NULL,
    ship_city_id        text NOT NULL,
    quote_id            uuid NOT NULL,
    estimated_days      bigint NOT NULL CHECK (estimated_days >= 0),
    charge_id           uuid NOT NULL,
    payment_method      text NOT NULL CHECK (payment_method IN ('wallet', 'card')),
    reservation_id      uuid NOT NULL,
    tracking_number     text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX orders_of_user ON orders (user_id, number DESC);
CREATE INDEX orders_by_status ON orders (status, number);

CREATE TABLE order_lines (
    order_id         uuid NOT NULL REFERENCES orders (id),
    position         integer NOT NULL,
    sku              text NOT NULL,
    name             text NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents > 0),
    PRIMARY KEY (order_id, position),
    UNIQUE (order_id, sku)
);

-- Every status an order took, in order.
CREATE TABLE order_history (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id),
    status   text NOT NULL CHECK (status IN
                 ('pending', 'paid', 'dispatched', 'delivered', 'cancelled', 'returned')),
    at       timestamptz NOT NULL
);
CREATE INDEX order_history_of_order ON order_history (order_id, id);

-- Events from other services, recorded in the transaction that applies
-- them: a redelivered event finds its id here and changes nothing.
CREATE TABLE handled_events (
    event_id   uuid PRIMARY KEY,
    kind       text NOT NULL,
    order_id   uuid NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('applied', 'ignored')),
    handled_at timestamptz NOT NULL
);

-- The transactional outbox (see eshop_platform::outbox).
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    stream       text NOT NULL,
    event        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
