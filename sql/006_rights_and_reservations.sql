-- Reservation rights and reservations, behind the reservation gate.

CREATE TABLE reservation_rights (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id     bigint NOT NULL,
    dossier_id   bigint NOT NULL,
    structure_id bigint NOT NULL,
    service_id   bigint NOT NULL,
    period_id    bigint NOT NULL,
    opened_by    text NOT NULL,
    -- The transaction's start (012: no application role writes it), which proves "opened in this
    -- transaction" to the planning guard and the outbox guard.
    opened_at    timestamptz NOT NULL DEFAULT now(),
    notes        text,
    login_role   text DEFAULT session_user,
    -- Rights are never opened twice. Read by the opening's ON CONFLICT DO NOTHING and by the
    -- reservations' key below.
    UNIQUE (child_id, service_id, period_id)
);
-- Read by the planning guard and the outbox guard (rights of this dossier opened now), the
-- planning-open email's children and `dossier show`.
CREATE INDEX reservation_rights_dossier ON reservation_rights (dossier_id);

-- Rights fit their dossier, set-based, once per statement: the child is one of the dossier's, the
-- dossier is validated (or its planning open already), and the structure, the service and the
-- period are the dossier's structure's. One probe per right into children and dossier_status (by
-- their keys) and dossier_records; services and periods are small tables.
CREATE FUNCTION reservation_rights_fit_their_dossiers() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT r.child_id, r.dossier_id, c.id AS found_child, s.state, d.structure_id AS dossier_structure,
           r.structure_id, v.id AS found_service, p.id AS found_period INTO bad
    FROM new_rights r
    LEFT JOIN children c ON c.id = r.child_id AND c.dossier_id = r.dossier_id
    LEFT JOIN dossier_status s ON s.dossier_id = r.dossier_id
    LEFT JOIN dossier_records d ON d.id = r.dossier_id
    LEFT JOIN services v ON v.id = r.service_id AND v.structure_id = r.structure_id
    LEFT JOIN periods p ON p.id = r.period_id AND p.structure_id = r.structure_id
    WHERE c.id IS NULL OR s.state IS NULL OR s.state NOT IN ('validated', 'planning_open')
       OR d.structure_id <> r.structure_id OR v.id IS NULL OR p.id IS NULL
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF bad.found_child IS NULL THEN
        RAISE EXCEPTION 'child % does not belong to dossier %', bad.child_id, bad.dossier_id USING ERRCODE = 'ETK04';
    ELSIF bad.state NOT IN ('validated', 'planning_open') THEN
        RAISE EXCEPTION 'reservation rights need a validated dossier; this one is %', bad.state USING ERRCODE = 'ETK04';
    ELSE
        RAISE EXCEPTION 'reservation rights of dossier % name another structure, or a service or period not of structure %',
            bad.dossier_id, bad.dossier_structure USING ERRCODE = '23503';
    END IF;
END
$$;
CREATE TRIGGER reservation_rights_inserted AFTER INSERT ON reservation_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION reservation_rights_fit_their_dossiers();
CREATE TRIGGER reservation_rights_updated AFTER UPDATE ON reservation_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION reservation_rights_fit_their_dossiers();

CREATE TABLE reservations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id    bigint NOT NULL,
    service_id  bigint NOT NULL,
    period_id   bigint NOT NULL,
    day         date NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    notes       text,
    login_role  text DEFAULT session_user,
    UNIQUE (child_id, service_id, day),
    -- Booked one at a time by an administrator: a plain foreign key is the right tool here.
    FOREIGN KEY (child_id, service_id, period_id)
        REFERENCES reservation_rights (child_id, service_id, period_id) ON DELETE CASCADE
);

-- The reservation gate: a validated dossier, rights for that service and period, a day the service
-- runs, inside the period and not closed. Each refusal says which condition failed.
CREATE FUNCTION reservation_gate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    current   dossier_state;
    has_right boolean;
    period    periods%ROWTYPE;
    runs_on   smallint[];
BEGIN
    SELECT s.state INTO current FROM children c JOIN dossier_status s ON s.dossier_id = c.dossier_id
    WHERE c.id = NEW.child_id;
    IF current IS NULL THEN
        RAISE EXCEPTION 'no such child: %', NEW.child_id USING ERRCODE = 'ETK04';
    END IF;
    IF current NOT IN ('validated', 'planning_open') THEN
        RAISE EXCEPTION 'the child''s dossier is %, not validated', current USING ERRCODE = 'ETK04';
    END IF;
    SELECT true INTO has_right FROM reservation_rights
    WHERE child_id = NEW.child_id AND service_id = NEW.service_id AND period_id = NEW.period_id;
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
CREATE TRIGGER reservations_gate BEFORE INSERT OR UPDATE ON reservations
    FOR EACH ROW EXECUTE FUNCTION reservation_gate();
