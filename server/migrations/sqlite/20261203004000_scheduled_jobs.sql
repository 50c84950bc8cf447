-- A scheduled job (reconcile, id sweep, the CRM event drains) is one row that stays `queued`:
-- after each run it is due again `every_ms` later. One-off jobs leave it NULL.
ALTER TABLE jobs ADD COLUMN every_ms BIGINT;
