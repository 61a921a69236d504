-- Encryption keys, datasources, and workspace constants and secrets.
-- Sealed values are XChaCha20-Poly1305 ciphertexts (base64 of nonce || ciphertext) under a
-- workspace data key; see host/server/src/vault/mod.rs for the associated data of each kind.

-- Each workspace's data keys, sealed by a master key (named by its id, never stored here).
-- `lathe keys rotate` adds a version and re-seals every row; older versions stay so that a
-- row written by a replica that had not yet seen the new version still opens.
CREATE TABLE data_keys (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

CREATE TABLE datasources (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    plugin_id    TEXT NOT NULL,
    config       TEXT NOT NULL,   -- JSON object of the non-secret fields
    secrets      TEXT,            -- the secret fields as a sealed JSON object; NULL when none
    key_version  INTEGER,            -- the data key version `secrets` is sealed with
    max_rows     INTEGER NOT NULL,   -- rows a run keeps before cutting the result
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

-- {{ constants.name }} and {{ secrets.name }}: one table, a flag for secrets, whose value
-- is sealed.
CREATE TABLE constants (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret       INTEGER NOT NULL CHECK (secret IN (0, 1)),
    value        TEXT NOT NULL,
    key_version  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, name, secret)
);
