-- Per-employee calendar-sync overrides (issue #14): whether the admin chose the employee's
-- opt-in (`opt_in_set`; when FALSE the employee follows the admin's default in the sync rules)
-- and the employee's own sync start date (`start_date`, YYYY-MM-DD, NULL: the global one).
-- Rows written so far were all written by an explicit opt-in or out, or for an opted-in employee.
ALTER TABLE calendar_employees ADD COLUMN opt_in_set BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE calendar_employees ADD COLUMN start_date TEXT;
UPDATE calendar_employees SET opt_in_set = TRUE;
