-- Reservation rights per child and period, with the services as an array (issue 17).
--
-- 006 kept one row per child, service and period, with three indexes (its id, the unique
-- (child, service, period), the dossier): a validated dossier opened about four of them, twelve
-- index entries, in the worker's rights-and-move statement. Rights are now one row per child and
-- period, `service_ids` the services it may book, under one index, the primary key (dossier_id,
-- period_id, child_id): it answers the opening's ON CONFLICT, the guards' "rights of this dossier
-- (and period) opened now", the reservation gate (which knows the child's dossier), `planning
-- show`, `dossier show`, review's removal and a child's deletion. A child belongs to one dossier
-- (the fit guard checks it), so the key is as unique as (child_id, period_id).
--
-- `reservation_rights` stays, as a view with one row per child, service and period as before
-- (no `id`: nothing read it), for administrators' queries and the product's readers.
--
-- The reservations' foreign key cannot name an element of an array: the reservation gate checks
-- the right (and locks it, as the key did, against a concurrent removal), rights only widen, and
-- removing rights removes their reservations (the key's ON DELETE CASCADE). TRUNCATE, which fires
-- no delete trigger, is refused.

CREATE TABLE child_period_rights (
    dossier_id   bigint NOT NULL,
    period_id    bigint NOT NULL,
    child_id     bigint NOT NULL,
    structure_id bigint NOT NULL,
    -- The services the child may book in the period: never empty, each once (the fit guard).
    service_ids  bigint[] NOT NULL CHECK (cardinality(service_ids) > 0),
    opened_by    text NOT NULL,
    -- The transaction's start (no application role writes it), which proves "opened in this
    -- transaction" to the planning guard and the outbox guard. A service added later (`rights
    -- open --service`) leaves it as the first opening's.
    opened_at    timestamptz NOT NULL DEFAULT now(),
    notes        text,
    login_role   text DEFAULT session_user,
    PRIMARY KEY (dossier_id, period_id, child_id)
);

-- The rights 006's table held, one row per child and period.
INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by, opened_at,
                                 notes, login_role)
SELECT dossier_id, period_id, child_id, min(structure_id), array_agg(service_id ORDER BY service_id),
       (array_agg(opened_by ORDER BY opened_at, id))[1], min(opened_at),
       string_agg(notes, '; ' ORDER BY id), (array_agg(login_role ORDER BY opened_at, id))[1]
FROM reservation_rights GROUP BY dossier_id, period_id, child_id;

ALTER TABLE reservations DROP CONSTRAINT reservations_child_id_service_id_period_id_fkey;
DROP TABLE reservation_rights;
DROP FUNCTION reservation_rights_fit_their_dossiers();

-- One row per child, service and period, as 006's table; in the reader's rights (its row-level
-- security applies through the view).
CREATE VIEW reservation_rights WITH (security_invoker = true) AS
SELECT r.child_id, r.dossier_id, r.structure_id, s.service_id, r.period_id, r.opened_by, r.opened_at, r.notes,
       r.login_role
FROM child_period_rights r CROSS JOIN LATERAL unnest(r.service_ids) AS s(service_id);

-- Rights fit their dossier, set-based, once per statement: the child is one of the dossier's, the
-- dossier is validated (or its planning open already), and the structure, each service (once)
-- and the period are the dossier's structure's. One probe per row into children, dossier_status
-- and dossier_records by their keys; services and periods are small tables.
CREATE FUNCTION child_period_rights_fit_their_dossiers() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT r.child_id, r.dossier_id, c.id AS found_child, s.state, d.structure_id AS dossier_structure INTO bad
    FROM new_rights r
    LEFT JOIN children c ON c.id = r.child_id AND c.dossier_id = r.dossier_id
    LEFT JOIN dossier_status s ON s.dossier_id = r.dossier_id
    LEFT JOIN dossier_records d ON d.id = r.dossier_id
    WHERE c.id IS NULL OR s.state IS NULL OR s.state NOT IN ('validated', 'planning_open')
       OR d.structure_id <> r.structure_id
       OR NOT EXISTS (SELECT 1 FROM periods p WHERE p.id = r.period_id AND p.structure_id = r.structure_id)
       -- Fewer of the structure's services than elements: another structure's, unknown, NULL or twice.
       OR (SELECT count(*) FROM services v WHERE v.id = ANY (r.service_ids) AND v.structure_id = r.structure_id)
          <> cardinality(r.service_ids)
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF bad.found_child IS NULL THEN
        RAISE EXCEPTION 'child % does not belong to dossier %', bad.child_id, bad.dossier_id USING ERRCODE = 'ETK04';
    ELSIF bad.state NOT IN ('validated', 'planning_open') THEN
        RAISE EXCEPTION 'reservation rights need a validated dossier; this one is %', bad.state USING ERRCODE = 'ETK04';
    ELSE
        RAISE EXCEPTION 'reservation rights of dossier % name another structure, or a service or period not of structure % (or a service twice)',
            bad.dossier_id, bad.dossier_structure USING ERRCODE = '23503';
    END IF;
END
$$;
CREATE TRIGGER child_period_rights_inserted AFTER INSERT ON child_period_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION child_period_rights_fit_their_dossiers();
CREATE TRIGGER child_period_rights_updated AFTER UPDATE ON child_period_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION child_period_rights_fit_their_dossiers();

-- Rights only widen: an update (the opening's ON CONFLICT adding a service, an administrator's
-- note) keeps the child, dossier, period and structure and every service the row had, so no
-- reservation loses its right. Narrowing is a delete, which takes the reservations along. Per row:
-- updates are rare, and a statement's old and new rows have no key of their own to pair them.
CREATE FUNCTION child_period_rights_only_widen() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF (NEW.dossier_id, NEW.period_id, NEW.child_id, NEW.structure_id) IS DISTINCT FROM
       (OLD.dossier_id, OLD.period_id, OLD.child_id, OLD.structure_id) THEN
        RAISE EXCEPTION 'reservation rights keep their child, dossier, period and structure: delete them and open others'
            USING ERRCODE = 'ETK04';
    END IF;
    IF NOT (NEW.service_ids @> OLD.service_ids) THEN
        RAISE EXCEPTION 'reservation rights of child % are only widened: delete them to remove a service', OLD.child_id
            USING ERRCODE = 'ETK04';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER child_period_rights_only_widen BEFORE UPDATE ON child_period_rights
    FOR EACH ROW EXECUTE FUNCTION child_period_rights_only_widen();

-- Removed rights take their reservations along, as 006's ON DELETE CASCADE did, in the definer's
-- rights as a foreign key's cascade (a child's deletion by the intake removes its rights).
CREATE FUNCTION child_period_rights_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM reservations x USING old_rights o
    WHERE x.child_id = o.child_id AND x.period_id = o.period_id AND x.service_id = ANY (o.service_ids);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION child_period_rights_deleted() FROM PUBLIC;
CREATE TRIGGER child_period_rights_deleted AFTER DELETE ON child_period_rights
    REFERENCING OLD TABLE AS old_rights
    FOR EACH STATEMENT EXECUTE FUNCTION child_period_rights_deleted();
CREATE TRIGGER child_period_rights_no_truncate BEFORE TRUNCATE ON child_period_rights
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- 006's gate, reading the rights by the child's dossier, and locking them as the foreign key did:
-- a removal of the rights waits for this reservation's transaction, then removes it too; a
-- reservation made while they are being removed waits, then finds none.
CREATE OR REPLACE FUNCTION reservation_gate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    current   dossier_state;
    dossier   bigint;
    has_right boolean;
    period    periods%ROWTYPE;
    runs_on   smallint[];
BEGIN
    SELECT s.state, c.dossier_id INTO current, dossier
    FROM children c JOIN dossier_status s ON s.dossier_id = c.dossier_id
    WHERE c.id = NEW.child_id;
    IF current IS NULL THEN
        RAISE EXCEPTION 'no such child: %', NEW.child_id USING ERRCODE = 'ETK04';
    END IF;
    IF current NOT IN ('validated', 'planning_open') THEN
        RAISE EXCEPTION 'the child''s dossier is %, not validated', current USING ERRCODE = 'ETK04';
    END IF;
    SELECT true INTO has_right FROM child_period_rights
    WHERE dossier_id = dossier AND period_id = NEW.period_id AND child_id = NEW.child_id
      AND NEW.service_id = ANY (service_ids)
    FOR KEY SHARE;
    IF has_right IS NULL THEN
        RAISE EXCEPTION 'the child has no reservation rights for this service and period'
            USING ERRCODE = 'ETK04';
    END IF;
    SELECT * INTO period FROM periods WHERE id = NEW.period_id;
    IF NEW.day NOT BETWEEN period.starts_on AND period.ends_on THEN
        RAISE EXCEPTION '% is outside the period % (% to %)', NEW.day, period.code, period.starts_on,
            period.ends_on USING ERRCODE = 'ETK04';
    END IF;
    IF NEW.day = ANY (period.closed_dates) THEN
        RAISE EXCEPTION '% is a closed date of the period %', NEW.day, period.code USING ERRCODE = 'ETK04';
    END IF;
    SELECT weekdays INTO runs_on FROM services WHERE id = NEW.service_id;
    IF NOT (extract(isodow FROM NEW.day)::smallint = ANY (runs_on)) THEN
        RAISE EXCEPTION 'the service does not run on % (a %)', NEW.day, trim(to_char(NEW.day, 'Day'))
            USING ERRCODE = 'ETK04';
    END IF;
    RETURN NEW;
END
$$;

-- 010's cascade from a deleted child, by the key (the child's dossier comes with it).
CREATE OR REPLACE FUNCTION children_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM child_period_rights r USING old_parts o WHERE r.dossier_id = o.dossier_id AND r.child_id = o.id;
    RETURN NULL;
END
$$;

-- 008's planning rule, reading the table: rights of this dossier opened by this transaction.
CREATE OR REPLACE FUNCTION dossier_planning_opens_with_rights(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    IF NOT (pg_has_role(current_user, 'eticket_worker', 'USAGE') OR pg_has_role(current_user, 'eticket_admin', 'USAGE')) THEN
        SELECT m.dossier_id INTO bad FROM unnest(moves) m
        WHERE m.to_state = 'planning_open' AND m.from_state <> 'planning_open' LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'dossier %: opening its planning is the worker''s or an administrator''s move, not role %''s',
                dossier_external_id(bad.dossier_id), current_user USING ERRCODE = 'ETK06';
        END IF;
        RETURN;
    END IF;
    SELECT m.dossier_id INTO bad FROM unnest(moves) m
    WHERE m.to_state = 'planning_open' AND m.from_state <> 'planning_open'
      AND NOT EXISTS (SELECT 1 FROM child_period_rights r WHERE r.dossier_id = m.dossier_id AND r.opened_at = now())
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become planning_open without rights opened in the same transaction',
            dossier_external_id(bad.dossier_id) USING ERRCODE = 'ETK07';
    END IF;
END
$$;

-- 012's grants and policies. Workers and administrators open rights (the opening adds a service
-- to a child's rights by ON CONFLICT DO UPDATE); administrators annotate and remove them.
GRANT SELECT ON child_period_rights, reservation_rights TO eticket_worker, eticket_admin;
GRANT INSERT (dossier_id, period_id, child_id, structure_id, service_ids, opened_by, notes), UPDATE (service_ids)
    ON child_period_rights TO eticket_worker, eticket_admin;
GRANT UPDATE (notes), DELETE ON child_period_rights TO eticket_admin;
ALTER TABLE child_period_rights ENABLE ROW LEVEL SECURITY;
CREATE POLICY worker_all ON child_period_rights TO eticket_worker USING (true) WITH CHECK (true);
CREATE POLICY structure_isolation ON child_period_rights TO eticket_admin
    USING (administers(structure_id, current_user)) WITH CHECK (administers(structure_id, current_user));
CREATE POLICY opened_as_its_role ON child_period_rights AS RESTRICTIVE FOR INSERT TO eticket_worker, eticket_admin
    WITH CHECK (opened_by <> 'import' AND actor_fits_role(opened_by));
