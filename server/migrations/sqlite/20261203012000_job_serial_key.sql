-- A job's serial key: jobs sharing one run one at a time across every instance (the lease skips
-- a job whose key another job holds), and a duplicate queued while one is still waiting is not
-- added. NULL for jobs that may run alongside any other.
ALTER TABLE jobs ADD COLUMN serial_key TEXT;
CREATE INDEX jobs_serial_key_idx ON jobs (serial_key);
