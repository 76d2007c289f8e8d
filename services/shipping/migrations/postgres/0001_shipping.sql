-- Shipping on PostgreSQL. Countries and cities are loaded from the crate's
-- data at start. `search_name` compares byte-wise (collation "C"), so a
-- prefix search is a range on its index. A quote is confirmed once it has a
-- reference; until then it is open, or expired after `expires_at`.
CREATE TABLE countries (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    name text NOT NULL
);

CREATE TABLE cities (
    id           text PRIMARY KEY,
    country_code text NOT NULL REFERENCES countries (code),
    name         text NOT NULL,
    search_name  text COLLATE "C" NOT NULL,
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    population   bigint NOT NULL CHECK (population >= 0)
);
CREATE INDEX cities_search ON cities (search_name);
CREATE INDEX cities_country_search ON cities (country_code, search_name);

CREATE TABLE quotes (
    id             uuid PRIMARY KEY,
    city_id        text NOT NULL REFERENCES cities (id),
    distance_km    double precision NOT NULL CHECK (distance_km >= 0),
    weight_grams   integer NOT NULL CHECK (weight_grams BETWEEN 1 AND 50000),
    cost_cents     bigint NOT NULL CHECK (cost_cents > 0),
    estimated_days integer NOT NULL CHECK (estimated_days > 0),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    reference      text CHECK (char_length(reference) BETWEEN 1 AND 100),
    confirmed_at   timestamptz,
    CHECK ((reference IS NULL) = (confirmed_at IS NULL))
);
