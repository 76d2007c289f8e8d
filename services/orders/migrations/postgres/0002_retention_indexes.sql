-- Pruning past the retention (ESHOP_RETENTION) finds what to delete by
-- time, without reading the whole table.
CREATE INDEX handled_events_by_time ON handled_events (handled_at);
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
