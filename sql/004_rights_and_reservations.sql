-- Reservation rights and reservations, behind the reservation gate.

CREATE TABLE reservation_rights (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id     bigint NOT NULL REFERENCES children ON DELETE CASCADE,
    dossier_id   bigint NOT NULL,
    structure_id bigint NOT NULL,
    service_id   bigint NOT NULL,
    period_id    bigint NOT NULL,
    opened_by    text NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    notes        text,
    -- Rights are never opened twice, and never across structures.
    UNIQUE (child_id, service_id, period_id),
    FOREIGN KEY (dossier_id, structure_id) REFERENCES dossiers (id, structure_id),
    FOREIGN KEY (service_id, structure_id) REFERENCES services (id, structure_id),
    FOREIGN KEY (period_id, structure_id) REFERENCES periods (id, structure_id)
);
CREATE INDEX reservation_rights_dossier ON reservation_rights (dossier_id);

-- Statement-level: opening rights for a batch of dossiers is checked once, set-based.
CREATE FUNCTION reservation_rights_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT r.child_id, r.dossier_id, c.id AS found_child, d.state INTO bad
    FROM new_rights r
    LEFT JOIN children c ON c.id = r.child_id AND c.dossier_id = r.dossier_id
    LEFT JOIN dossiers d ON d.id = r.dossier_id
    WHERE c.id IS NULL OR d.state NOT IN ('validated', 'planning_open')
    LIMIT 1;
    IF FOUND AND bad.found_child IS NULL THEN
        RAISE EXCEPTION 'child % does not belong to dossier %', bad.child_id, bad.dossier_id USING ERRCODE = 'ETK04';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'reservation rights need a validated dossier; this one is %', bad.state USING ERRCODE = 'ETK04';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER reservation_rights_inserted AFTER INSERT ON reservation_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION reservation_rights_guard();
CREATE TRIGGER reservation_rights_updated AFTER UPDATE ON reservation_rights
    REFERENCING NEW TABLE AS new_rights
    FOR EACH STATEMENT EXECUTE FUNCTION reservation_rights_guard();

CREATE TABLE reservations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id    bigint NOT NULL,
    service_id  bigint NOT NULL,
    period_id   bigint NOT NULL,
    day         date NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    notes       text,
    UNIQUE (child_id, service_id, day),
    FOREIGN KEY (child_id, service_id, period_id)
        REFERENCES reservation_rights (child_id, service_id, period_id) ON DELETE CASCADE
);

-- The reservation gate: a validated dossier, rights for that service and period, a day the service
-- runs, inside the period and not closed. Each refusal says which condition failed.
CREATE FUNCTION reservation_gate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current   dossier_state;
    has_right boolean;
    period    periods%ROWTYPE;
    runs_on   smallint[];
BEGIN
    SELECT d.state INTO current FROM children c JOIN dossiers d ON d.id = c.dossier_id
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
