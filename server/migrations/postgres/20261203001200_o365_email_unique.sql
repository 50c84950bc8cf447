-- An Office 365 e-mail belongs to at most one active employee (it binds the first Outlook
-- sign-in). Duplicates made before this rule keep the e-mail on the oldest employee only.
UPDATE employees SET o365_email = ''
WHERE active AND o365_email <> '' AND EXISTS (
    SELECT 1 FROM employees AS other
    WHERE other.active AND other.o365_email = employees.o365_email
      AND (other.created_at < employees.created_at
           OR (other.created_at = employees.created_at AND other.employee_id < employees.employee_id)));
CREATE UNIQUE INDEX employees_o365_email_active_key ON employees (o365_email)
    WHERE active AND o365_email <> '';
