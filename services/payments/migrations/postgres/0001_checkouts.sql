-- Checkouts and their saga state. One checkout per (user, Idempotency-Key).
-- A driver holds a lease while it runs the saga; a checkout whose lease ran
-- out while unfinished is picked up by the recovery worker.
CREATE TABLE checkouts (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    idempotency_key text NOT NULL,
    request         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'failed')),
    step            text NOT NULL,
    progress        jsonb NOT NULL,
    failure         jsonb,
    last_error      text,
    lease_owner     text,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX checkouts_unfinished ON checkouts (lease_until) WHERE status IN ('running', 'compensating');
