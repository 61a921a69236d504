-- One counter that every change to what servers cache on the request path moves, in the same
-- transaction as the change: API tokens, ended sessions, users, memberships, workspaces, which
-- version of an app is released (and its slug), datasources. A server compares it with the value its caches
-- were filled under before it trusts them (host/server/src/cache.rs), so a change is seen by
-- the next request on every server sharing this store. Triggers, not application code, move
-- it, so that no write path (an API route, a CLI command, a cascade) can forget to.
-- Changes that no cache needs to see (an app's draft, a new session or its last-use time,
-- audit records, rate limits) leave it alone: they are frequent, and each move empties every
-- cache.
CREATE TABLE cache_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO cache_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER api_tokens_epoch_update AFTER UPDATE ON api_tokens
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER api_tokens_epoch_delete AFTER DELETE ON api_tokens
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER sessions_epoch_delete AFTER DELETE ON sessions
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER users_epoch_update AFTER UPDATE ON users
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER users_epoch_delete AFTER DELETE ON users
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER members_epoch_insert AFTER INSERT ON members
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER members_epoch_update AFTER UPDATE ON members
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER members_epoch_delete AFTER DELETE ON members
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER workspaces_epoch_delete AFTER DELETE ON workspaces
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER apps_epoch_update AFTER UPDATE OF released_version, slug, workspace_id ON apps
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER apps_epoch_delete AFTER DELETE ON apps
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;

CREATE TRIGGER datasources_epoch_insert AFTER INSERT ON datasources
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER datasources_epoch_update AFTER UPDATE ON datasources
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER datasources_epoch_delete AFTER DELETE ON datasources
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
