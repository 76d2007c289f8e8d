-- The catalog on PostgreSQL. Stock can never go below zero: the CHECK holds
-- even if a bug slipped past the conditional updates.
CREATE TABLE categories (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL
);

CREATE TABLE products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    category    text NOT NULL REFERENCES categories (slug),
    stock       bigint NOT NULL CHECK (stock >= 0),
    weight_grams bigint NOT NULL CHECK (weight_grams > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') ||
        setweight(to_tsvector('english', description), 'B')
    ) STORED
);
CREATE INDEX products_search ON products USING gin (search);
CREATE INDEX products_category_name ON products (category, name);

CREATE TABLE reservations (
    id         uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    sku            text NOT NULL REFERENCES products (sku),
    quantity       bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);
