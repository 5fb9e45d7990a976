-- A decision is carried out by its transaction (004), checked once per inserting statement instead
-- of once per decision (issue 17).
--
-- PostgreSQL defers only row-level constraint triggers, so 004's check ran at commit once per
-- decision: a hundred trigger calls, each with its own query, for a worker's batch of a hundred.
-- Here the decisions' statement trigger writes one row naming every decision of the statement
-- into a table of their own, and the deferred trigger of that row checks them all at commit in
-- one query, then deletes the row. The guarantee is 004's: for the application's roles, every
-- decision has, by commit, the event of the state change that carried it out. A decision written
-- in a savepoint that is rolled back takes its row with it; `SET CONSTRAINTS … IMMEDIATE` checks
-- at the end of the statement, before any state change could follow, and fails closed.

DROP TRIGGER decisions_carried_out ON decisions;
DROP FUNCTION decisions_carried_out();

-- Decisions written by this transaction that no state change has carried out yet. Unlogged: a
-- row lives from a decision's statement to its transaction's commit, and is gone after a crash
-- with the transaction that wrote it. Nobody but the definer functions below reads or writes it.
CREATE UNLOGGED TABLE decisions_to_carry_out (
    decision_ids bigint[] NOT NULL,
    dossier_ids  bigint[] NOT NULL
);
ALTER TABLE decisions_to_carry_out ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON decisions_to_carry_out FROM PUBLIC;

-- Writes the row, in the definer's rights (no application role may touch the table).
CREATE FUNCTION decisions_to_carry_out_write(decision_ids bigint[], dossier_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO decisions_to_carry_out (decision_ids, dossier_ids) VALUES (decision_ids, dossier_ids)
$$;
REVOKE EXECUTE ON FUNCTION decisions_to_carry_out_write(bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION decisions_to_carry_out_write(bigint[], bigint[]) TO eticket_worker, eticket_admin;

-- The decisions' statement trigger: in the caller's rights, so that the owner's exemption is the
-- caller's (the owner runs the migrations and may write history by hand).
CREATE FUNCTION decisions_to_be_carried_out() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    decision_ids bigint[];
    dossier_ids  bigint[];
BEGIN
    IF acts_as_owner(TG_RELID) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(id), array_agg(dossier_id) INTO decision_ids, dossier_ids FROM new_decisions;
    IF decision_ids IS NOT NULL THEN
        PERFORM decisions_to_carry_out_write(decision_ids, dossier_ids);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER decisions_to_be_carried_out AFTER INSERT ON decisions
    REFERENCING NEW TABLE AS new_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_to_be_carried_out();

-- At commit: every decision of the row has the event that names it (one probe of the events'
-- (dossier_id, id) index per decision, in one query), then the row goes.
CREATE FUNCTION decisions_carried_out_by_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    undone bigint;
    bad    record;
BEGIN
    SELECT w.decision_id INTO undone
    FROM unnest(NEW.decision_ids, NEW.dossier_ids) AS w(decision_id, dossier_id)
    WHERE NOT EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = w.dossier_id AND e.decision_id = w.decision_id)
    LIMIT 1;
    IF FOUND THEN
        SELECT outcome, dossier_id, dossier_version INTO bad FROM decisions WHERE id = undone;
        RAISE EXCEPTION 'a decision % on dossier % version % was carried out by no state change of its transaction',
            bad.outcome, bad.dossier_id, bad.dossier_version USING ERRCODE = 'ETK07',
            HINT = 'write the decision and move the dossier to its outcome in one transaction';
    END IF;
    DELETE FROM decisions_to_carry_out WHERE decision_ids = NEW.decision_ids;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION decisions_carried_out_by_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER decisions_carried_out AFTER INSERT ON decisions_to_carry_out
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION decisions_carried_out_by_commit();
