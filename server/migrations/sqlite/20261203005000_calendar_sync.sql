-- Calendar sync CRM → Outlook. `calendar_links`: one row per CRM activity and employee whose
-- mailbox holds (or is getting) its event; `event_id` is NULL while a create is in flight, so a
-- crash between Graph's answer and our commit is resumed by searching for the CRM id before any
-- re-create (with the same transaction id). `calendar_employees`: who is opted in and how their
-- sync went. `calendar_trace`: every sync decision, for the admin.
CREATE TABLE calendar_links (
    activity_key    TEXT NOT NULL,
    employee_id     TEXT NOT NULL,
    mailbox         TEXT NOT NULL,
    event_id        TEXT,
    ical_uid        TEXT,
    transaction_id  TEXT NOT NULL,
    content_hash    TEXT NOT NULL DEFAULT '',
    has_attendees   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (activity_key, employee_id)
);
CREATE INDEX calendar_links_employee_idx ON calendar_links (employee_id);
CREATE INDEX calendar_links_event_idx ON calendar_links (event_id);

CREATE TABLE calendar_employees (
    employee_id     TEXT PRIMARY KEY,
    enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    person_id       BIGINT,
    last_sync_at    BIGINT,
    last_error      TEXT,
    backfilled_at   BIGINT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE calendar_trace (
    trace_id        TEXT PRIMARY KEY,
    at              BIGINT NOT NULL,
    activity_key    TEXT NOT NULL,
    employee_id     TEXT NOT NULL DEFAULT '',
    mailbox         TEXT NOT NULL DEFAULT '',
    action          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    request_id      TEXT,
    error           TEXT
);
CREATE INDEX calendar_trace_activity_idx ON calendar_trace (activity_key, at);
CREATE INDEX calendar_trace_employee_idx ON calendar_trace (employee_id, at);
