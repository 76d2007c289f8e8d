-- Delivered and cancelled shipments, and published outbox rows, are
-- deleted once they are older than the retention (ESHOP_RETENTION); these
-- find them by time, without reading the whole table.
CREATE INDEX shipments_finished ON shipments (coalesce(delivered_at, cancelled_at))
    WHERE status IN ('delivered', 'cancelled');
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
