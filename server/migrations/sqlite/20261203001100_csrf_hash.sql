-- CSRF tokens are derived from the session id and stored only as a hash. Sessions made before
-- this change carry a plain token; they end here (their users sign in again).
DELETE FROM admin_sessions;
ALTER TABLE admin_sessions RENAME COLUMN csrf_token TO csrf_hash;
