-- What the builder and viewer roles hold in each workspace (host/server/src/authz). Admins
-- always hold everything and have no rows. Every workspace starts with the defaults below
-- (new ones get them from the server when created); whoever manages groups can narrow or
-- widen them, e.g. take `use` on every datasource from viewers and give `use` on one
-- datasource to a group instead.
CREATE TABLE role_grants (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('builder', 'viewer')),
    kind          TEXT NOT NULL CHECK (kind IN ('workspace', 'app', 'datasource')),
    app_id        TEXT REFERENCES apps (id) ON DELETE CASCADE,
    datasource_id TEXT REFERENCES datasources (id) ON DELETE CASCADE,
    action        TEXT NOT NULL,
    created_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    CHECK (kind = 'app' OR app_id IS NULL),
    CHECK (kind = 'datasource' OR datasource_id IS NULL)
);
CREATE UNIQUE INDEX role_grants_unique ON role_grants
    (workspace_id, role, kind, COALESCE(app_id, ''), COALESCE(datasource_id, ''), action);

INSERT INTO role_grants (id, workspace_id, role, kind, action, created_at)
SELECT gen_random_uuid()::text, w.id, d.role, d.kind, d.action, w.created_at
FROM workspaces w CROSS JOIN (
    SELECT 1 AS n, 'builder' AS role, 'app' AS kind, 'view' AS action
    UNION ALL SELECT 2, 'builder', 'app', 'edit'
    UNION ALL SELECT 3, 'builder', 'datasource', 'use'
    UNION ALL SELECT 4, 'builder', 'datasource', 'configure'
    UNION ALL SELECT 5, 'builder', 'workspace', 'build'
    UNION ALL SELECT 6, 'viewer', 'app', 'view'
    UNION ALL SELECT 7, 'viewer', 'datasource', 'use'
) d;

CREATE TRIGGER role_grants_epoch AFTER INSERT OR UPDATE OR DELETE ON role_grants
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
