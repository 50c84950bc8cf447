-- The `leases` table (named leases for singleton background work) is no longer used: singleton
-- work is a scheduled job in the `jobs` queue, leased like any other job.
DROP TABLE IF EXISTS leases;
