-- A dossier's parts may also be written by the transaction that submits it (issue 6: the import
-- wrote each dossier as a draft, then its parts, then updated it to submitted: a second version of
-- the whole row, content included, and a second trigger run, for every dossier imported).
--
-- Now the import writes a dossier as submitted and its parts after it, in one transaction. The rule
-- stays a rule of the database: parts are writable while the dossier is a draft or returned, and
-- while it is submitted only in the transaction whose submission event it is (the event's xmin is
-- this transaction). Any later transaction, including a no-op UPDATE of the dossier, finds the
-- event written by another one and is refused as before. An import inside a savepoint writes its
-- event as a subtransaction and is refused too: the rule fails closed.
CREATE FUNCTION dossier_parts_writable(dossier_id bigint, state dossier_state) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT state IN ('draft', 'returned')
        OR (state = 'submitted' AND EXISTS (
                SELECT 1 FROM dossier_events e
                WHERE e.dossier_id = dossier_parts_writable.dossier_id AND e.to_state = 'submitted'
                  AND e.xmin = pg_current_xact_id()::xid))
$$;

CREATE OR REPLACE FUNCTION dossier_parts_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM old_parts) AND NOT dossier_parts_writable(d.id, d.state) LIMIT 1;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM new_parts) AND NOT dossier_parts_writable(d.id, d.state) LIMIT 1;
    ELSE
        IF EXISTS (SELECT 1 FROM old_parts o JOIN new_parts n USING (id) WHERE n.dossier_id <> o.dossier_id) THEN
            RAISE EXCEPTION '% cannot move to another dossier', TG_TABLE_NAME USING ERRCODE = 'ETK01';
        END IF;
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM new_parts UNION SELECT dossier_id FROM old_parts)
          AND NOT dossier_parts_writable(d.id, d.state) LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', bad.external_id, bad.state, TG_TABLE_NAME
            USING ERRCODE = 'ETK01';
    END IF;
    RETURN NULL;
END
$$;
