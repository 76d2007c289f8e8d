-- Users on PostgreSQL. Emails are stored normalised (trimmed, lowercased),
-- so the UNIQUE constraint is what keeps one account per email, even when
-- registrations race.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE addresses (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label       text,
    name        text NOT NULL,
    line1       text NOT NULL,
    line2       text,
    city        text NOT NULL,
    postal_code text NOT NULL,
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    phone       text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, created_at);

-- Failed password checks, one row per attempt for the account and one for
-- the client address, counted in a sliding window and purged once older.
CREATE TABLE login_failures (
    attempt_id uuid NOT NULL,
    scope      text NOT NULL CHECK (scope IN ('account', 'address')),
    key        text NOT NULL,
    failed_at  timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, scope)
);
CREATE INDEX login_failures_key ON login_failures (scope, key, failed_at);
CREATE INDEX login_failures_age ON login_failures (failed_at);
