-- Identity and security: admin sessions, sign-in throttling, the first-admin setup link, audit log.
CREATE TABLE admin_sessions (
    session_hash  TEXT PRIMARY KEY,
    employee_id   TEXT NOT NULL REFERENCES employees (employee_id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX admin_sessions_employee_idx ON admin_sessions (employee_id);

-- One row per failed sign-in; keys are `account:<email>` and `ip:<address>`.
CREATE TABLE login_failures (
    throttle_key  TEXT NOT NULL,
    failed_at     BIGINT NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (throttle_key, failed_at);

CREATE TABLE setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE audit_log (
    audit_id  TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor_id  TEXT,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
