-- Finished checkouts are deleted once they have been finished for the
-- retention (ESHOP_RETENTION); this finds them by when they finished.
CREATE INDEX checkouts_finished ON checkouts (updated_at) WHERE status IN ('completed', 'failed');
