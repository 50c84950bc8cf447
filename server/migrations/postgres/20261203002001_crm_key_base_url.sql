-- The CRM base URL each employee's API key was saved with: a key is only ever sent there.
-- Keys stored before were saved for the connection configured now.
ALTER TABLE employees ADD COLUMN crm_key_base_url TEXT;
UPDATE employees
SET crm_key_base_url = (SELECT value::jsonb ->> 'base_url' FROM settings WHERE key = 'crm_connection')
WHERE crm_api_key_enc IS NOT NULL;
