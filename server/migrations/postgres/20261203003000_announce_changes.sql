-- Every instance keeps employees, settings and recent picks in memory; these triggers tell them
-- (after commit) what changed, whichever instance or tool wrote it.
CREATE FUNCTION crm_bridge_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'recent_picks' THEN
        PERFORM pg_notify('crm_bridge_changes',
            'recent_picks:' || COALESCE(NEW.employee_id, OLD.employee_id));
    ELSE
        PERFORM pg_notify('crm_bridge_changes', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER employees_announce_change AFTER INSERT OR UPDATE OR DELETE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION crm_bridge_announce_change();
CREATE TRIGGER settings_announce_change AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION crm_bridge_announce_change();
CREATE TRIGGER recent_picks_announce_change AFTER INSERT OR UPDATE OR DELETE ON recent_picks
    FOR EACH ROW EXECUTE FUNCTION crm_bridge_announce_change();
