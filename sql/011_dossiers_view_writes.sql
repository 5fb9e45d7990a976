-- Writing through the `dossiers` view, as administrators (and the owner by hand) always did: an
-- insert writes the record, then the status; an update moves the status first (so that a
-- resubmission is the submission the record's guard lets write), then the record. Only the
-- columns that changed are written, so that each table's column privileges and guards judge
-- exactly what the caller changed. The product's own writers (import, worker) write the two
-- tables directly. These row triggers run in the caller's rights.

CREATE FUNCTION dossiers_view_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    NEW.id := coalesce(NEW.id, nextval(pg_get_serial_sequence('dossier_records', 'id')::regclass));
    INSERT INTO dossier_records (id, structure_id, account_id, external_id, locale, confirmed, terms_accepted_at,
                                 house_rules_accepted_at, submitted_at, notes, content)
    OVERRIDING SYSTEM VALUE
    VALUES (NEW.id, NEW.structure_id, NEW.account_id, NEW.external_id, NEW.locale, NEW.confirmed,
            NEW.terms_accepted_at, NEW.house_rules_accepted_at, NEW.submitted_at, NEW.notes, NEW.content);
    INSERT INTO dossier_status (dossier_id, state) VALUES (NEW.id, NEW.state);
    SELECT s.version, s.updated_at INTO NEW.version, NEW.updated_at FROM dossier_status s WHERE s.dossier_id = NEW.id;
    SELECT r.created_at, r.purged_at INTO NEW.created_at, NEW.purged_at FROM dossier_records r WHERE r.id = NEW.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER dossiers_view_insert INSTEAD OF INSERT ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossiers_view_insert();

-- The columns of `changed` whose stored text differs from `original`'s: a value respelled (182734.0 for
-- 182734 in jsonb) is a change, as the read-only rule wants; NULL equals NULL.
CREATE FUNCTION changed_columns(changed jsonb, original jsonb, columns text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(array_agg(c ORDER BY n), '{}') FROM unnest(columns) WITH ORDINALITY AS u(c, n)
    WHERE (changed -> c)::text IS DISTINCT FROM (original -> c)::text
$$;

CREATE FUNCTION dossiers_view_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := to_jsonb(OLD);
    status_columns text[] := changed_columns(new_row, old_row, '{version,state}');
    record_columns text[] := changed_columns(new_row, old_row,
                          '{structure_id,account_id,external_id,locale,confirmed,terms_accepted_at,
                            house_rules_accepted_at,submitted_at,notes,content,created_at,purged_at}');
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'a dossier''s id never changes' USING ERRCODE = 'ETK01';
    END IF;
    IF cardinality(status_columns) > 0 THEN
        EXECUTE format('UPDATE dossier_status SET %s WHERE dossier_id = ($1).id',
                       (SELECT string_agg(format('%1$I = ($1).%1$I', c), ', ') FROM unnest(status_columns) c))
            USING NEW;
    END IF;
    IF cardinality(record_columns) > 0 THEN
        EXECUTE format('UPDATE dossier_records SET %s WHERE id = ($1).id',
                       (SELECT string_agg(format('%1$I = ($1).%1$I', c), ', ') FROM unnest(record_columns) c))
            USING NEW;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER dossiers_view_update INSTEAD OF UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossiers_view_update();

CREATE FUNCTION dossiers_view_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM dossier_records WHERE id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER dossiers_view_delete INSTEAD OF DELETE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossiers_view_delete();
