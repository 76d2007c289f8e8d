-- Pruning quotes expired longer than the retention (ESHOP_RETENTION) finds
-- them by time, without reading the whole table.
CREATE INDEX quotes_by_expiry ON quotes (expires_at);
