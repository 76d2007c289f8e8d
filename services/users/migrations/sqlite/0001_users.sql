-- Users on SQLite (embedded backend). Same guarantees as on PostgreSQL.
-- Failure times are integer microseconds since the epoch, so the window
-- is a plain numeric comparison.
CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE addresses (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label       TEXT,
    name        TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT,
    city        TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    phone       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, created_at);

CREATE TABLE login_failures (
    attempt_id BLOB NOT NULL,
    scope      TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key        TEXT NOT NULL,
    failed_at  INTEGER NOT NULL,
    PRIMARY KEY (attempt_id, scope)
);
CREATE INDEX login_failures_key ON login_failures (scope, key, failed_at);
CREATE INDEX login_failures_age ON login_failures (failed_at);
