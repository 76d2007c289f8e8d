-- Failures are also counted per account from one client address, so that
-- a stranger's guesses never lock the owner out from another address.
ALTER TABLE login_failures DROP CONSTRAINT login_failures_scope_check;
ALTER TABLE login_failures
    ADD CONSTRAINT login_failures_scope_check
    CHECK (scope IN ('account', 'account_address', 'address'));
