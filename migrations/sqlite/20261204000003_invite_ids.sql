-- A public id for each email token, so workspace admins can list and revoke pending invites
-- without the token (or its hash) ever leaving the store.
ALTER TABLE email_tokens ADD COLUMN id TEXT;
UPDATE email_tokens SET id = lower(hex(randomblob(16))) WHERE id IS NULL;
CREATE UNIQUE INDEX email_tokens_id ON email_tokens (id);
CREATE INDEX email_tokens_workspace ON email_tokens (workspace_id, created_at);
