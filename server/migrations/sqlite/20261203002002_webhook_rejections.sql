-- Deliveries to our webhook URL refused for a missing or wrong X-RAYNETCRM-Token (one row).
CREATE TABLE webhook_rejections (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    total    BIGINT NOT NULL,
    last_at  BIGINT NOT NULL
);
