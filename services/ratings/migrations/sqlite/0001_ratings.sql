-- Ratings on SQLite (embedded backend). Each product's running totals live
-- beside its ratings and change in the same transaction; the CHECKs hold
-- the totals to what the ratings can add up to.
CREATE TABLE ratings (
    sku      TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    stars    INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    review   TEXT             CHECK (review IS NULL OR length(review) BETWEEN 1 AND 500),
    author   TEXT    NOT NULL,
    -- Milliseconds since the epoch.
    rated_at INTEGER NOT NULL,
    -- The product's revision when this rating was last written.
    revision INTEGER NOT NULL,
    PRIMARY KEY (sku, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ratings_latest_reviews ON ratings (sku, revision) WHERE review IS NOT NULL;

CREATE TABLE rating_summaries (
    sku          TEXT    PRIMARY KEY,
    star_sum     INTEGER NOT NULL,
    rating_count INTEGER NOT NULL CHECK (rating_count >= 0),
    -- Taken by every write, to order reviews exactly.
    revision     INTEGER NOT NULL,
    CHECK (star_sum BETWEEN rating_count AND 5 * rating_count)
) STRICT;
