-- One e-mail or meeting is one CRM activity across colleagues: an entry that joined a colleague's
-- activity names who saved it first. The ledger follows the CRM: when the activity was deleted
-- there, and the links it has there when they were changed.
ALTER TABLE logged_items ADD COLUMN saved_by TEXT;
ALTER TABLE logged_items ADD COLUMN crm_deleted_at BIGINT;
ALTER TABLE logged_items ADD COLUMN crm_links TEXT;
CREATE INDEX logged_items_source_idx ON logged_items (kind, source_key);
CREATE INDEX logged_items_activity_idx ON logged_items (kind, crm_activity_id);
