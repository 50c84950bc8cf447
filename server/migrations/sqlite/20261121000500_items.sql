-- The item cache (our copy of CRM firms, persons, projects, business cases) and the employees'
-- recent picks that rank lookups.
CREATE TABLE items (
    kind            SMALLINT NOT NULL,
    crm_id          BIGINT NOT NULL,
    name            TEXT NOT NULL,
    subtitle        TEXT NOT NULL DEFAULT '',
    emails          TEXT NOT NULL DEFAULT '',
    company_id      BIGINT,
    is_open         BOOLEAN NOT NULL DEFAULT TRUE,
    crm_updated_at  BIGINT,
    seen_run        TEXT,
    synced_at       BIGINT NOT NULL,
    PRIMARY KEY (kind, crm_id)
);
CREATE INDEX items_company_idx ON items (company_id);

CREATE TABLE recent_picks (
    employee_id  TEXT NOT NULL,
    kind         SMALLINT NOT NULL,
    crm_id       BIGINT NOT NULL,
    used_at      BIGINT NOT NULL,
    PRIMARY KEY (employee_id, kind, crm_id)
);
CREATE INDEX recent_picks_employee_idx ON recent_picks (employee_id, kind, used_at);
