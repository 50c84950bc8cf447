-- Calendar sync Outlook → CRM (issue #14). `calendar_delta`: per employee, the whole
-- `@odata.deltaLink` the last delta round of their mailbox ended with (NULL: the next round
-- starts over). `calendar_inbound`: per linked event, what both sides last agreed it shows
-- (subject, times, place as JSON), when inbound changes were applied (for the flap
-- quarantine), and whether the link was dropped on purpose (delete mode "unlink": the CRM
-- side must not bring the event back). `calendar_held`: items held for the admin (conflict
-- policy "hold", quarantine, mass-delete guard) with both versions. `calendar_subscriptions`:
-- the Graph change-notification subscription of each synced mailbox, its client state kept only
-- as a SHA-256 hash. `calendar_trace` learns which way each decision flowed.
CREATE TABLE calendar_delta (
    employee_id     TEXT PRIMARY KEY,
    mailbox         TEXT NOT NULL,
    delta_link      TEXT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE calendar_inbound (
    activity_key    TEXT NOT NULL,
    employee_id     TEXT NOT NULL,
    agreed          TEXT,
    applied_at      TEXT NOT NULL DEFAULT '[]',
    unlinked        BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (activity_key, employee_id)
);

CREATE TABLE calendar_held (
    held_id         TEXT PRIMARY KEY,
    employee_id     TEXT NOT NULL,
    activity_key    TEXT NOT NULL,
    reason          TEXT NOT NULL,
    crm_version     TEXT,
    outlook_version TEXT,
    created_at      BIGINT NOT NULL,
    resolved_at     BIGINT,
    resolution      TEXT
);
CREATE INDEX calendar_held_open_idx ON calendar_held (resolved_at, created_at);

CREATE TABLE calendar_subscriptions (
    employee_id       TEXT PRIMARY KEY,
    subscription_id   TEXT NOT NULL UNIQUE,
    mailbox           TEXT NOT NULL,
    client_state_hash TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

ALTER TABLE calendar_trace ADD COLUMN direction TEXT NOT NULL DEFAULT 'crm_to_outlook';
