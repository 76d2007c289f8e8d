-- The catalog on SQLite (embedded backend). Same guarantees as on
-- PostgreSQL; search is an FTS5 index kept in step by triggers.
CREATE TABLE categories (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE products (
    sku         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    category    TEXT NOT NULL REFERENCES categories (slug),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    weight_grams INTEGER NOT NULL CHECK (weight_grams > 0),
    created_at  TEXT NOT NULL
);
CREATE INDEX products_category_name ON products (category, name);

CREATE VIRTUAL TABLE products_fts USING fts5 (
    name, description, content = 'products', tokenize = 'porter unicode61'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description);
    INSERT INTO products_fts (rowid, name, description) VALUES (new.rowid, new.name, new.description);
END;

CREATE TABLE reservations (
    id         BLOB PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released')),
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    reservation_id BLOB NOT NULL REFERENCES reservations (id),
    sku            TEXT NOT NULL REFERENCES products (sku),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku)
);
