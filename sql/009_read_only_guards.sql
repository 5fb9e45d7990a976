-- Read-only after sending: what the family sent (the dossier record and its parts) changes while
-- the dossier is the family's — a draft, or returned to it — and in the transaction that submits it
-- (the import writes a dossier as submitted and its parts after it; a resubmission moves the
-- status first, then writes the next version's record and parts). For the application's roles,
-- only that transaction: a draft or a returned dossier is not edited by hand, and its identity
-- (structure, external id, creation, purge mark) never changes.
--
-- "Submitted by this transaction" is the dossier's submission event having been written by it
-- (the event's xmin is this transaction): a later transaction, even one that writes the status
-- again unchanged, finds another transaction's event and is refused; a submission inside a
-- savepoint is a subtransaction's and is refused too (the rule fails closed).

-- Which of `ids` may not be written now, with their state: those whose state is not one of
-- `writable` and that this transaction did not submit. One probe of dossier_status and, for a
-- submitted one, of its events, per dossier. A dossier that does not exist comes with a NULL state.
CREATE FUNCTION dossiers_not_writable(ids bigint[], writable dossier_state[])
RETURNS TABLE (dossier_id bigint, state dossier_state)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT i.id, s.state FROM unnest(ids) AS i(id) LEFT JOIN dossier_status s ON s.dossier_id = i.id
    WHERE s.state IS NULL
       OR (s.state <> ALL (writable)
           AND NOT (s.state = 'submitted' AND EXISTS (
                   SELECT 1 FROM dossier_events e
                   WHERE e.dossier_id = i.id AND e.to_state = 'submitted' AND e.xmin = pg_current_xact_id()::xid)))
$$;

-- The record of a dossier the family no longer owns does not change (ETK01); for the application's
-- roles, only the submitting transaction writes it, and never its identity.
CREATE FUNCTION dossier_records_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner boolean := acts_as_owner(TG_RELID);
    bad   record;
BEGIN
    -- (Messages name the dossier as it was: an external id being changed is not its name yet.)
    SELECT o.external_id, r.state INTO bad
    FROM dossiers_not_writable(ARRAY(SELECT id FROM new_records), '{draft,returned}') r
    JOIN old_records o ON o.id = r.dossier_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only', bad.external_id, bad.state USING ERRCODE = 'ETK01';
    END IF;
    IF owner THEN
        RETURN NULL;
    END IF;
    SELECT o.external_id, r.state INTO bad FROM dossiers_not_writable(ARRAY(SELECT id FROM new_records), '{}') r
    JOIN old_records o ON o.id = r.dossier_id LIMIT 1;
    IF NOT FOUND THEN
        SELECT (SELECT o.external_id FROM old_records o WHERE o.id = n.id) AS external_id, s.state INTO bad
        FROM (SELECT id, max(row(structure_id, external_id, created_at, purged_at, account_id)::text) FILTER (WHERE was_old) AS was,
                     max(row(structure_id, external_id, created_at, purged_at, account_id)::text) FILTER (WHERE NOT was_old) AS now
              FROM (SELECT true AS was_old, * FROM old_records UNION ALL SELECT false, * FROM new_records) AS sides
              GROUP BY id) n
        JOIN dossier_status s ON s.dossier_id = n.id
        WHERE n.was IS DISTINCT FROM n.now
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is %: only its submission may change it, and never its identity',
            bad.external_id, bad.state USING ERRCODE = 'ETK01';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_records_guard AFTER UPDATE ON dossier_records
    REFERENCING OLD TABLE AS old_records NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_records_guard();

-- The parts follow their dossier's record, and name a dossier that exists (their referential
-- integrity, set-based: one probe per dossier of the statement, not a query and a lock per row).
-- One function for the four part tables and the three kinds of change, as PostgreSQL's manual does
-- for auditing with transition tables: each branch reads only the tables its event has.
CREATE FUNCTION dossier_parts_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner boolean := acts_as_owner(TG_RELID);
    ids   bigint[];
    bad   record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT DISTINCT dossier_id FROM old_parts);
    ELSE
        -- (Nested: an expression is planned whole, and an INSERT has no old_parts.)
        IF TG_OP = 'UPDATE' THEN
            IF EXISTS (SELECT 1 FROM old_parts o JOIN new_parts n USING (id) WHERE n.dossier_id <> o.dossier_id) THEN
                RAISE EXCEPTION '% cannot move to another dossier', TG_TABLE_NAME USING ERRCODE = 'ETK01';
            END IF;
        END IF;
        ids := ARRAY(SELECT DISTINCT dossier_id FROM new_parts);
    END IF;
    SELECT * INTO bad
    FROM dossiers_not_writable(ids, CASE WHEN owner THEN '{draft,returned}' ELSE '{draft}' END::dossier_state[]) LIMIT 1;
    IF FOUND AND bad.state IS NULL THEN
        -- A deleted dossier's parts go with it (010).
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'insert or update on table "%" names dossier %, which does not exist', TG_TABLE_NAME,
            bad.dossier_id USING ERRCODE = '23503';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', dossier_external_id(bad.dossier_id), bad.state,
            TG_TABLE_NAME USING ERRCODE = 'ETK01';
    END IF;
    RETURN NULL;
END
$$;
DO $$
DECLARE
    part text;
BEGIN
    FOREACH part IN ARRAY ARRAY['children', 'guardians', 'trusted_persons', 'documents'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_guard_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_parts
                        FOR EACH STATEMENT EXECUTE FUNCTION dossier_parts_guard()', part);
        EXECUTE format('CREATE TRIGGER %1$s_guard_update AFTER UPDATE ON %1$I
                        REFERENCING OLD TABLE AS old_parts NEW TABLE AS new_parts
                        FOR EACH STATEMENT EXECUTE FUNCTION dossier_parts_guard()', part);
        EXECUTE format('CREATE TRIGGER %1$s_guard_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_parts
                        FOR EACH STATEMENT EXECUTE FUNCTION dossier_parts_guard()', part);
    END LOOP;
END
$$;
