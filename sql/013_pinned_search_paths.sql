-- Every function of the schema runs with its search_path pinned: pg_catalog first, pg_temp last.
--
-- A function without one resolves names through the caller's search_path, in which PostgreSQL
-- puts pg_temp *before* pg_catalog unless it is named. Any role may create temporary tables, so
-- a temporary `pg_class` (or `dossier_status`) would stand in for the real one inside the guards,
-- which run with the caller's rights: a worker could pass for the schema's owner and validate a
-- dossier waiting for an administrator. Pinned, the catalog and the schema are always the real
-- ones. Each function of the baseline pins its own; this, the baseline's last file, makes sure
-- of it. A later migration pins its functions itself (`PinnedSearchPathTests` fails otherwise).
DO $$
DECLARE
    function regprocedure;
BEGIN
    FOR function IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', function);
    END LOOP;
END
$$;
