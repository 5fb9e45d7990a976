-- Referential integrity on the write path, set-based (issue 17: a foreign key costs a query and a
-- KEY SHARE lock per written row, 17.5 per processed dossier, and the locks dirtied clean pages
-- of the dossiers, children and accounts). The child side is checked once per statement by the
-- tables' guards — the status (008), the parts (009), the decisions (004), the rights (006), the
-- emails (005) and the queue below — and the parent side here: a dossier, a child, a service or a
-- period that something names is not deleted from under it. Plain foreign keys stay where rows are
-- written one at a time (reservations, accounts, the structures' own tables).

-- The queue names an existing dossier, and the period of an open_rights job is one of the
-- dossier's structure. One probe of dossier_records' key per row.
CREATE FUNCTION dossier_queue_names_dossiers() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.dossier_id, NULL::bigint AS period_id INTO bad FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM dossier_records d WHERE d.id = n.dossier_id)
    LIMIT 1;
    -- Periods only when a row names one: the intake, which queues processing, may not read them.
    IF NOT FOUND AND EXISTS (SELECT 1 FROM new_rows WHERE period_id IS NOT NULL) THEN
        SELECT n.dossier_id, n.period_id INTO bad FROM new_rows n JOIN dossier_records d ON d.id = n.dossier_id
        WHERE n.period_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM periods p WHERE p.id = n.period_id AND p.structure_id = d.structure_id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier_queue names dossier % (period %), which does not exist or is not of its structure',
            bad.dossier_id, bad.period_id USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_queue_names_dossiers AFTER INSERT ON dossier_queue
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_queue_names_dossiers();
CREATE TRIGGER dossier_queue_names_dossiers_updated AFTER UPDATE ON dossier_queue
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_queue_names_dossiers();

-- A dossier that anything recorded names (an event, a decision, an email, rights, a queue row, a
-- purge) is never deleted; one that nothing names goes with its status and its parts.
CREATE FUNCTION dossier_records_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT o.id, o.external_id INTO bad FROM old_records o
    WHERE EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM decisions d WHERE d.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM email_outbox m WHERE m.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM reservation_rights r WHERE r.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM dossier_queue q WHERE q.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM purges p WHERE p.dossier_id = o.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is named by its history and cannot be deleted', bad.external_id
            USING ERRCODE = '23503';
    END IF;
    DELETE FROM dossier_status WHERE dossier_id IN (SELECT id FROM old_records);
    DELETE FROM children WHERE dossier_id IN (SELECT id FROM old_records);
    DELETE FROM guardians WHERE dossier_id IN (SELECT id FROM old_records);
    DELETE FROM trusted_persons WHERE dossier_id IN (SELECT id FROM old_records);
    DELETE FROM documents WHERE dossier_id IN (SELECT id FROM old_records);
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_records_deleted AFTER DELETE ON dossier_records
    REFERENCING OLD TABLE AS old_records
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_records_deleted();

-- A child's rights go with it (a resubmission replaces the parts of a dossier returned after its
-- planning opened), and their reservations with them (the reservations' foreign key). In the
-- definer's rights, as a foreign key's cascade: the intake may delete a child, not rights.
CREATE FUNCTION children_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM reservation_rights WHERE child_id IN (SELECT id FROM old_parts);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION children_deleted() FROM PUBLIC;
CREATE TRIGGER children_deleted AFTER DELETE ON children
    REFERENCING OLD TABLE AS old_parts
    FOR EACH STATEMENT EXECUTE FUNCTION children_deleted();

-- A service or a period that rights, emails or the queue name stays.
CREATE FUNCTION offers_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    named bigint;
BEGIN
    IF TG_TABLE_NAME = 'services' THEN
        SELECT o.id INTO named FROM old_offers o
        WHERE EXISTS (SELECT 1 FROM reservation_rights r WHERE r.service_id = o.id) LIMIT 1;
    ELSE
        SELECT o.id INTO named FROM old_offers o
        WHERE EXISTS (SELECT 1 FROM reservation_rights r WHERE r.period_id = o.id)
           OR EXISTS (SELECT 1 FROM email_outbox m WHERE m.period_id = o.id)
           OR EXISTS (SELECT 1 FROM dossier_queue q WHERE q.period_id = o.id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION '% % is named by reservation rights, emails or the queue and cannot be deleted', TG_TABLE_NAME, named
            USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER services_deleted AFTER DELETE ON services
    REFERENCING OLD TABLE AS old_offers
    FOR EACH STATEMENT EXECUTE FUNCTION offers_deleted();
CREATE TRIGGER periods_deleted AFTER DELETE ON periods
    REFERENCING OLD TABLE AS old_offers
    FOR EACH STATEMENT EXECUTE FUNCTION offers_deleted();

-- TRUNCATE fires no delete trigger: a table that others name is never truncated (a foreign key
-- refused it too). The owner can still switch the trigger off, as any other.
CREATE FUNCTION refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% is named by other tables: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = '23503';
END
$$;
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['dossier_records', 'dossier_status', 'children', 'services', 'periods'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_no_truncate BEFORE TRUNCATE ON %1$I
                        FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()', name);
    END LOOP;
END
$$;
