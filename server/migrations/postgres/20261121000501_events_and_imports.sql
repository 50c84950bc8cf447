-- Received CRM webhooks (durable, deduplicated by the CRM's event id), import runs with their
-- resumable progress, and named leases for singleton background work across instances.
CREATE TABLE crm_events (
    event_id     TEXT PRIMARY KEY,
    action       TEXT NOT NULL,
    entity_name  TEXT NOT NULL,
    item_kind    SMALLINT,
    entity_id    BIGINT NOT NULL,
    created_at   BIGINT,
    received_at  BIGINT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_until  BIGINT,
    error        TEXT
);
CREATE INDEX crm_events_status_idx ON crm_events (status, received_at);

CREATE TABLE import_runs (
    run_id        TEXT PRIMARY KEY,
    status        TEXT NOT NULL,
    requested_by  TEXT,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    heartbeat_at  BIGINT,
    progress      TEXT NOT NULL,
    error         TEXT
);
CREATE INDEX import_runs_status_idx ON import_runs (status, started_at);

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    until        BIGINT NOT NULL
);
