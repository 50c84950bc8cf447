-- Run-time settings (JSON values) and employees (add-in users; admins are employees with a role).
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE employees (
    employee_id      TEXT PRIMARY KEY,
    identifier       TEXT NOT NULL DEFAULT '',
    login_email      TEXT NOT NULL DEFAULT '',
    password_hash    TEXT,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'employee')),
    crm_user_email   TEXT NOT NULL DEFAULT '',
    crm_api_key_enc  TEXT,
    o365_email       TEXT NOT NULL DEFAULT '',
    entra_tid        TEXT,
    entra_oid        TEXT,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    language         TEXT,
    first_signin_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE UNIQUE INDEX employees_login_email_key ON employees (login_email) WHERE login_email <> '';
CREATE UNIQUE INDEX employees_entra_key ON employees (entra_tid, entra_oid);
CREATE INDEX employees_o365_email_idx ON employees (o365_email);
