-- Carts on SQLite (embedded backend). A cart exists while it holds lines.
-- Expiries are milliseconds since the epoch: reads skip expired carts, and
-- a worker deletes them (their lines go with them). A line's position is
-- its place in the cart: 1 for the first added, one more for each new one.
CREATE TABLE carts (
    owner      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX carts_expiry ON carts (expires_at);

CREATE TABLE cart_lines (
    owner            TEXT NOT NULL REFERENCES carts (owner) ON DELETE CASCADE,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    position         INTEGER NOT NULL,
    PRIMARY KEY (owner, sku)
);
