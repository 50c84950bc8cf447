-- On SQLite the one writer connection's hooks announce changes (store::changes); nothing to
-- create. The file exists so both backends have the same migrations.
SELECT 1;
