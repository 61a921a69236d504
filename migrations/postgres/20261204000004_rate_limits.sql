-- Rate-limit counters (login and reset attempts) in the store, so that every replica counts
-- against the same budget. One fixed window per key; rows past `expires_at` are dead and
-- swept from time to time.
CREATE TABLE rate_limits (
    key        TEXT PRIMARY KEY,
    count      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at);
