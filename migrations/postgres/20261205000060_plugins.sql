-- Installing connectors from registries (docs/plugins.md).

-- The registries instance admins install from: an http(s) URL or a local directory.
CREATE TABLE registries (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    url            TEXT NOT NULL,
    -- Whether unsigned packages, or packages signed by a key nobody trusts, may be installed
    -- from it (air-gapped sites that build their own connectors).
    allow_unsigned INTEGER NOT NULL CHECK (allow_unsigned IN (0, 1)),
    created_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at     BIGINT NOT NULL
);

-- Publisher keys whose signatures the instance accepts, from any registry.
CREATE TABLE trusted_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,   -- ed25519:<base64>
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

-- Verified packages, by the sha256 of their archive. The component is kept in the store so
-- that every replica, and every restart, loads exactly what was verified and approved.
CREATE TABLE plugin_packages (
    digest      TEXT PRIMARY KEY,
    plugin_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    component   BYTEA NOT NULL,
    publisher   TEXT,              -- the signing key; NULL for an unsigned package
    registry    TEXT NOT NULL,     -- the name of the registry it came from, as it was then
    created_at  BIGINT NOT NULL
);

-- What is installed: the active package of each plugin with the capabilities the admin
-- approved, and the one before it, for a rollback.
CREATE TABLE installed_plugins (
    plugin_id         TEXT PRIMARY KEY,
    digest            TEXT NOT NULL REFERENCES plugin_packages (digest),
    approved          TEXT NOT NULL,   -- JSON array of capabilities
    previous_digest   TEXT REFERENCES plugin_packages (digest),
    previous_approved TEXT,
    installed_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    installed_at      BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Instance-wide settings an admin changes at run time (the egress allow-list), as JSON.
CREATE TABLE instance_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);

-- Set when the datasource's plugin was removed with `force`; it then refuses to run until
-- someone who may configure it enables it again.
ALTER TABLE datasources ADD COLUMN disabled TEXT;

CREATE TRIGGER installed_plugins_epoch AFTER INSERT OR UPDATE OR DELETE ON installed_plugins
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
CREATE TRIGGER instance_settings_epoch AFTER INSERT OR UPDATE OR DELETE ON instance_settings
    FOR EACH STATEMENT EXECUTE FUNCTION lathe_cache_epoch_bump();
