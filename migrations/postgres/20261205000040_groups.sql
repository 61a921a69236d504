-- Custom groups of a workspace's members and what each group is granted (host/server/src/authz).
-- The default roles (admin, builder, viewer) are fixed in the authorization model; groups add
-- to what their members hold, never take away.
CREATE TABLE member_groups (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (workspace_id, name),
    -- Lets group_members and grants name the group together with its workspace.
    UNIQUE (workspace_id, id)
);

-- A group's members are members of its workspace: removing someone from the workspace
-- removes them from its groups.
CREATE TABLE group_members (
    workspace_id TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (workspace_id, group_id) REFERENCES member_groups (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, user_id) REFERENCES members (workspace_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (workspace_id, user_id);

-- One permission of a group: on the workspace (manage_members, …), on every app or datasource
-- of the workspace (resource id NULL), or on one of them (deleted with it).
CREATE TABLE grants (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    group_id      TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('workspace', 'app', 'datasource')),
    app_id        TEXT REFERENCES apps (id) ON DELETE CASCADE,
    datasource_id TEXT REFERENCES datasources (id) ON DELETE CASCADE,
    action        TEXT NOT NULL,
    created_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    FOREIGN KEY (workspace_id, group_id) REFERENCES member_groups (workspace_id, id) ON DELETE CASCADE,
    CHECK (kind = 'app' OR app_id IS NULL),
    CHECK (kind = 'datasource' OR datasource_id IS NULL)
);
CREATE UNIQUE INDEX grants_unique ON grants
    (group_id, kind, COALESCE(app_id, ''), COALESCE(datasource_id, ''), action);
CREATE INDEX grants_workspace ON grants (workspace_id);

-- A public app's released version can be loaded and its released queries run without signing in.
ALTER TABLE apps ADD COLUMN public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1));

-- Policies are cached like memberships (see 20261204000030_cache_epoch.sql).
CREATE TRIGGER member_groups_epoch AFTER DELETE ON member_groups
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER group_members_epoch AFTER INSERT OR DELETE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER grants_epoch AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER apps_epoch_public AFTER UPDATE OF public ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
