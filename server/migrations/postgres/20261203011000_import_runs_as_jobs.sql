-- Issue #12: an import run's one sign of life is the lease of its `items.import` one-off job
-- (the job has the run's id). The kind is no longer scheduled, unfinished runs get their job,
-- and the run's own heartbeat goes.
DELETE FROM jobs WHERE job_id = 'schedule:items.import';
INSERT INTO jobs (job_id, kind, payload, status, attempts, next_attempt_at, created_at, updated_at)
SELECT run_id, 'items.import', '{}', 'queued', 0, started_at, started_at, started_at
FROM import_runs WHERE status IN ('queued', 'running');
ALTER TABLE import_runs DROP COLUMN heartbeat_at;
