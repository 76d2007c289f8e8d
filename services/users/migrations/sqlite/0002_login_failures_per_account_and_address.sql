-- Failures are also counted per account from one client address, so that
-- a stranger's guesses never lock the owner out from another address.
-- SQLite cannot change a CHECK constraint: the table is made anew, with
-- its rows.
CREATE TABLE login_failures_new (
    attempt_id BLOB NOT NULL,
    scope      TEXT NOT NULL CHECK (scope IN ('account', 'account_address', 'address')),
    key        TEXT NOT NULL,
    failed_at  INTEGER NOT NULL,
    PRIMARY KEY (attempt_id, scope)
);
INSERT INTO login_failures_new SELECT attempt_id, scope, key, failed_at FROM login_failures;
DROP TABLE login_failures;
ALTER TABLE login_failures_new RENAME TO login_failures;
CREATE INDEX login_failures_key ON login_failures (scope, key, failed_at);
CREATE INDEX login_failures_age ON login_failures (failed_at);
