-- The wallet on PostgreSQL. The rules that keep money from being lost or
-- invented hold here even if a bug slipped past the conditional updates:
-- balances never go below zero, refunds never exceed their charge, and the
-- ledger and the refunds are append-only.
CREATE TABLE accounts (
    user_id       uuid PRIMARY KEY,
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- One entry per change of a balance. `id` is the top-up's, charge's or
-- refund's id; `seq` orders the entries.
CREATE TABLE ledger (
    seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  uuid NOT NULL UNIQUE,
    user_id             uuid NOT NULL REFERENCES accounts (user_id),
    kind                text NOT NULL CHECK (kind IN ('top_up', 'charge', 'refund')),
    amount_cents        bigint NOT NULL CHECK (amount_cents > 0),
    balance_after_cents bigint NOT NULL CHECK (balance_after_cents >= 0),
    reference           text NOT NULL,
    created_at          timestamptz NOT NULL
);
CREATE INDEX ledger_user_latest ON ledger (user_id, seq DESC);

-- Successful charges; a wallet charge also has its ledger entry.
CREATE TABLE charges (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL,
    method         text NOT NULL CHECK (method IN ('wallet', 'card')),
    card_last4     text CHECK ((method = 'card') = (card_last4 IS NOT NULL)),
    amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
    refunded_cents bigint NOT NULL CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    reference      text NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE refunds (
    id           uuid PRIMARY KEY,
    charge_id    uuid NOT NULL REFERENCES charges (id),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    created_at   timestamptz NOT NULL
);
CREATE INDEX refunds_charge ON refunds (charge_id);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_never_truncated BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER refunds_append_only BEFORE UPDATE OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER refunds_never_truncated BEFORE TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Idempotency keys and the answers given under them. A key is taken (with
-- status and body still NULL) and answered in one transaction, so no one
-- ever sees a key without its answer. `scope` keeps users' top-up keys
-- apart from each other and from the saga's charge and refund keys.
CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    idempotency_key text NOT NULL,
    fingerprint     text NOT NULL,
    status          integer CHECK (status BETWEEN 200 AND 599),
    body            text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (scope, idempotency_key),
    CHECK ((status IS NULL) = (body IS NULL))
);
