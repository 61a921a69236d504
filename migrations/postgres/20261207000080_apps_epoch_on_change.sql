-- A draft save writes every column the builder can change, the slug included, whether or not
-- it changed; `AFTER UPDATE OF slug` fired on each one and emptied every server's caches at
-- every save. The epoch now moves only when a column the caches depend on takes a new value.
-- A condition on old and new values needs a row-level trigger, and one of its own for
-- updates (a DELETE trigger has no NEW row).
DROP TRIGGER apps_epoch ON apps;
CREATE TRIGGER apps_epoch_delete AFTER DELETE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER apps_epoch_update AFTER UPDATE OF released_version, slug, workspace_id ON apps
    FOR EACH ROW
    WHEN (OLD.released_version IS DISTINCT FROM NEW.released_version
        OR OLD.slug IS DISTINCT FROM NEW.slug
        OR OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
    EXECUTE FUNCTION lathe_cache_epoch_bump();
