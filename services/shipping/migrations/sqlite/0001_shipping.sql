-- Shipping on SQLite (embedded backend), as on PostgreSQL: countries and
-- cities are loaded from the crate's data at start; `search_name` compares
-- byte-wise (SQLite's default BINARY collation), so a prefix search is a
-- range on its index. A quote is confirmed once it has a reference.
CREATE TABLE countries (
    code TEXT PRIMARY KEY CHECK (length(code) = 2 AND code = upper(code)),
    name TEXT NOT NULL
);

CREATE TABLE cities (
    id           TEXT PRIMARY KEY,
    country_code TEXT NOT NULL REFERENCES countries (code),
    name         TEXT NOT NULL,
    search_name  TEXT NOT NULL,
    latitude     REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    population   INTEGER NOT NULL CHECK (population >= 0)
);
CREATE INDEX cities_search ON cities (search_name);
CREATE INDEX cities_country_search ON cities (country_code, search_name);

CREATE TABLE quotes (
    id             BLOB PRIMARY KEY,
    city_id        TEXT NOT NULL REFERENCES cities (id),
    distance_km    REAL NOT NULL CHECK (distance_km >= 0),
    weight_grams   INTEGER NOT NULL CHECK (weight_grams BETWEEN 1 AND 50000),
    cost_cents     INTEGER NOT NULL CHECK (cost_cents > 0),
    estimated_days INTEGER NOT NULL CHECK (estimated_days > 0),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    reference      TEXT CHECK (length(reference) BETWEEN 1 AND 100),
    confirmed_at   TEXT,
    CHECK ((reference IS NULL) = (confirmed_at IS NULL))
);
