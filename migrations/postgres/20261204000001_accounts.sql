-- Accounts, sessions, API tokens, workspaces, members and the audit log.
-- Timestamps are Unix milliseconds; flags are 0/1 integers (see host/server/src/store/mod.rs).

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,   -- stored lower-cased
    password_hash  TEXT NOT NULL,          -- argon2id PHC string
    instance_admin BIGINT NOT NULL DEFAULT 0 CHECK (instance_admin IN (0, 1)),
    disabled_at    BIGINT,
    created_at     BIGINT NOT NULL
);

-- A session's id is only ever in the user's cookie; the store keeps its SHA-256.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'builder', 'viewer')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- An API token is shown once; the store keeps its SHA-256.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Append-only: no foreign keys, so records outlive what they describe.
CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    workspace_id TEXT,
    actor_id     TEXT,
    actor_email  TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    address      TEXT,
    via          TEXT,
    detail       TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
