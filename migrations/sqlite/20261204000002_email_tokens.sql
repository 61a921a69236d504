-- Single-use tokens sent by email: password resets and workspace invites. The store keeps
-- only the SHA-256 of a token; the link in the email carries the token itself.
CREATE TABLE email_tokens (
    id_hash      TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('reset', 'invite')),
    email        TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    role         TEXT CHECK (role IN ('admin', 'builder', 'viewer')),
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX email_tokens_email ON email_tokens (email);
