-- A counter on each app's draft that every write to the draft moves by one (a saved
-- definition, a restored version). A client sends back the revision it loaded as
-- `base_revision`, and the server refuses the save when the draft has moved since, instead of
-- overwriting someone else's work (docs/apps.md, "Concurrent edits").
ALTER TABLE apps ADD COLUMN draft_revision INTEGER NOT NULL DEFAULT 1 CHECK (draft_revision >= 1);
