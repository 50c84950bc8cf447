-- Raynet security levels: the level of each cached record (NULL: the CRM did not say, visible to
-- every employee) and the levels each employee's CRM account may open (NULL: not known, not
-- limited), as a JSON array of level ids.
ALTER TABLE items ADD COLUMN security_level BIGINT;
ALTER TABLE employees ADD COLUMN crm_security_levels TEXT;
