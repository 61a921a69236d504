-- A draft save writes every column the builder can change, the slug included, whether or not
-- it changed; `AFTER UPDATE OF slug` fired on each one and emptied every server's caches at
-- every save. The epoch now moves only when a column the caches depend on takes a new value.
DROP TRIGGER apps_epoch_update;
CREATE TRIGGER apps_epoch_update AFTER UPDATE OF released_version, slug, workspace_id ON apps
WHEN OLD.released_version IS NOT NEW.released_version
    OR OLD.slug IS NOT NEW.slug
    OR OLD.workspace_id IS NOT NEW.workspace_id
BEGIN UPDATE cache_epoch SET epoch = epoch + 1; END;
