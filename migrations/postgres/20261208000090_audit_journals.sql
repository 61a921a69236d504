-- How far each server's journal of run records has been imported into audit_events
-- (host/server/src/store/audit_journal.rs): the last record imported, by its number in the
-- journal, updated in the transaction that imports, so a journal left by a crash is
-- imported from there, each record once. Only the embedded
-- store keeps a journal; the table exists on both backends to keep their schemas alike.
CREATE TABLE audit_journals (
    journal     TEXT PRIMARY KEY,
    segment     BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL
);
