-- The wallet on SQLite (embedded backend), with the same guarantees as on
-- PostgreSQL: balances never go below zero, refunds never exceed their
-- charge, and the ledger and the refunds are append-only. STRICT tables
-- refuse a value of the wrong type instead of converting it.
CREATE TABLE accounts (
    user_id       BLOB PRIMARY KEY,
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- One entry per change of a balance. `id` is the top-up's, charge's or
-- refund's id; `seq` orders the entries.
CREATE TABLE ledger (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  BLOB NOT NULL UNIQUE,
    user_id             BLOB NOT NULL REFERENCES accounts (user_id),
    kind                TEXT NOT NULL CHECK (kind IN ('top_up', 'charge', 'refund')),
    amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= 0),
    reference           TEXT NOT NULL,
    created_at          TEXT NOT NULL
) STRICT;
CREATE INDEX ledger_user_latest ON ledger (user_id, seq DESC);

-- Successful charges; a wallet charge also has its ledger entry.
CREATE TABLE charges (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('wallet', 'card')),
    card_last4     TEXT CHECK ((method = 'card') = (card_last4 IS NOT NULL)),
    amount_cents   INTEGER NOT NULL CHECK (amount_cents > 0),
    refunded_cents INTEGER NOT NULL CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    reference      TEXT NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;

CREATE TABLE refunds (
    id           BLOB PRIMARY KEY,
    charge_id    BLOB NOT NULL REFERENCES charges (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX refunds_charge ON refunds (charge_id);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused');
END;
CREATE TRIGGER refunds_no_update BEFORE UPDATE ON refunds BEGIN
    SELECT RAISE(ABORT, 'refunds is append-only: UPDATE refused');
END;
CREATE TRIGGER refunds_no_delete BEFORE DELETE ON refunds BEGIN
    SELECT RAISE(ABORT, 'refunds is append-only: DELETE refused');
END;

-- Idempotency keys and the answers given under them. A key is taken (with
-- status and body still NULL) and answered in one transaction, so no one
-- ever sees a key without its answer. `scope` keeps users' top-up keys
-- apart from each other and from the saga's charge and refund keys.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    status          INTEGER CHECK (status BETWEEN 200 AND 599),
    body            TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (scope, idempotency_key),
    CHECK ((status IS NULL) = (body IS NULL))
) STRICT;
