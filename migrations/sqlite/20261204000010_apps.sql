-- Apps: a draft definition that builders edit, and numbered released versions that viewers
-- run. Definitions are JSON text, checked against host/server/schemas/app-definition.schema.json
-- before they are written. Timestamps are Unix milliseconds.

CREATE TABLE apps (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL,
    -- Lower-cased "name slug", computed by the server, so that ?q= search folds case the
    -- same way on both backends.
    search_text      TEXT NOT NULL,
    draft            TEXT NOT NULL,
    -- The app_versions.number viewers get; NULL until the first release.
    released_version INTEGER CHECK (released_version >= 1),
    created_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (workspace_id, slug)
);

-- Frozen copies of the draft, numbered 1, 2, … per app; never changed once written.
CREATE TABLE app_versions (
    app_id      TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL CHECK (number >= 1),
    definition  TEXT NOT NULL,
    note        TEXT,
    released_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    released_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, number)
);
