-- The durable job queue (generic background work) and the ledger of e-mails and meetings the
-- employees saved to the CRM. A job is due when it is `queued` and `next_attempt_at` has passed;
-- leasing a job pushes `next_attempt_at` to the end of the lease, so a job whose worker died is
-- picked up again when its lease runs out.
CREATE TABLE jobs (
    job_id           TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    entry_id         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs (status, next_attempt_at);
CREATE INDEX jobs_entry_idx ON jobs (entry_id);

CREATE TABLE logged_items (
    entry_id         TEXT PRIMARY KEY,
    employee_id      TEXT NOT NULL REFERENCES employees (employee_id),
    kind             TEXT NOT NULL CHECK (kind IN ('email', 'meeting')),
    source_key       TEXT NOT NULL,
    item_id          TEXT,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'saved', 'failed', 'unlinked')),
    crm_activity_id  BIGINT,
    crm_link         TEXT,
    error            TEXT,
    links            TEXT NOT NULL,
    unmatched        TEXT NOT NULL DEFAULT '[]',
    content          TEXT NOT NULL,
    revision         INTEGER NOT NULL DEFAULT 1,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (employee_id, kind, source_key)
);
CREATE INDEX logged_items_item_idx ON logged_items (employee_id, item_id);
