-- One counter that every change to what servers cache on the request path moves, in the same
-- transaction as the change: API tokens, ended sessions, users, memberships, workspaces, which
-- version of an app is released (and its slug), datasources. A server compares it with the value its caches
-- were filled under before it trusts them (host/server/src/cache.rs), so a change is seen by
-- the next request on every replica. Triggers, not application code, move it, so that no
-- write path (an API route, a CLI command, a cascade) can forget to. Changes that no cache
-- needs to see (an app's draft, a new session or its last-use time, audit records, rate
-- limits) leave it alone: they are frequent, and each move empties every cache.
--
-- The counter is one row, so two transactions that change cached tables wait for each other
-- at their first such change; these are administrative writes (a release, a role change),
-- never the request path's reads.
CREATE TABLE cache_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO cache_epoch (id, epoch) VALUES (1, 0);

CREATE FUNCTION lathe_cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_tokens_epoch AFTER UPDATE OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
-- Per row: the clean-up of expired sessions at each login usually deletes nothing.
CREATE TRIGGER sessions_epoch AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER users_epoch AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER members_epoch AFTER INSERT OR UPDATE OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER workspaces_epoch AFTER DELETE ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER apps_epoch AFTER UPDATE OF released_version, slug, workspace_id OR DELETE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER datasources_epoch AFTER INSERT OR UPDATE OR DELETE ON datasources
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
