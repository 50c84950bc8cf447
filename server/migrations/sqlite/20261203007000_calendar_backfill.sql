-- Calendar backfill progress: where an employee's backfill has got to (JSON: the activity type
-- and the offset in its listing), so a backfill interrupted by a crash resumes there. NULL when
-- no backfill is under way.
ALTER TABLE calendar_employees ADD COLUMN backfill_cursor TEXT;
