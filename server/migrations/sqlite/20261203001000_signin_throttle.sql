-- Sign-in throttling as one counter per key (`ip:<address>`, `account:<email>`,
-- `device:<id>`, `password:<employee id>`), advanced by compare-and-set before a password is
-- checked, so concurrent attempts (on any instance) cannot all pass one free slot.
DROP TABLE login_failures;
CREATE TABLE signin_throttle (
    throttle_key  TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL
);
CREATE INDEX signin_throttle_last_at_idx ON signin_throttle (last_at);
