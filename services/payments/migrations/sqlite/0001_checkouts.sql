-- Checkouts and their saga state, as on PostgreSQL.
CREATE TABLE checkouts (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL,
    idempotency_key TEXT NOT NULL,
    request         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'failed')),
    step            TEXT NOT NULL,
    progress        TEXT NOT NULL,
    failure         TEXT,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX checkouts_unfinished ON checkouts (lease_until) WHERE status IN ('running', 'compensating');
