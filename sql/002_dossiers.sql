-- Families' dossiers and their parts, with the state machine enforced by the database.

CREATE TYPE dossier_state AS ENUM
    ('draft', 'submitted', 'awaiting_review', 'validated', 'returned', 'rejected', 'planning_open');

-- The allowed transitions. Sources/Dossiers/DossierStateMachine.swift holds the same table; a test
-- compares the two.
CREATE TABLE dossier_transitions (
    from_state dossier_state NOT NULL,
    to_state   dossier_state NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO dossier_transitions (from_state, to_state) VALUES
    ('draft', 'submitted'),
    ('submitted', 'validated'),
    ('submitted', 'awaiting_review'),
    ('submitted', 'returned'),
    ('awaiting_review', 'validated'),
    ('awaiting_review', 'returned'),
    ('awaiting_review', 'rejected'),
    ('returned', 'submitted'),
    ('validated', 'planning_open'),
    ('validated', 'returned'),
    ('planning_open', 'returned');

CREATE TABLE accounts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id bigint NOT NULL REFERENCES structures,
    email        text NOT NULL CHECK (length(email) <= 254),
    first_name   text NOT NULL CHECK (length(first_name) <= 100),
    last_name    text NOT NULL CHECK (length(last_name) <= 100),
    notes        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_structure_email ON accounts (structure_id, lower(email));

CREATE TABLE dossiers (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id            bigint NOT NULL REFERENCES structures,
    account_id              bigint NOT NULL REFERENCES accounts,
    -- The portal's stable id; a resubmission after a return keeps it and bumps version.
    external_id             text NOT NULL UNIQUE CHECK (external_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    version                 integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    state                   dossier_state NOT NULL,
    locale                  text NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
    confirmed               boolean NOT NULL,
    terms_accepted_at       timestamptz,
    house_rules_accepted_at timestamptz,
    submitted_at            timestamptz,
    notes                   text CHECK (length(notes) <= 4000),
    -- The line as the portal sent it: the audit copy, and what a decision's hash is taken over.
    content                 jsonb NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, structure_id),
    CHECK (state = 'draft' OR submitted_at IS NOT NULL)
);
CREATE INDEX dossiers_structure_state ON dossiers (structure_id, state);

CREATE TABLE children (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL REFERENCES dossiers ON DELETE CASCADE,
    position    smallint NOT NULL CHECK (position >= 0),
    first_name  text NOT NULL CHECK (length(first_name) <= 100),
    last_name   text NOT NULL CHECK (length(last_name) <= 100),
    birth_date  date NOT NULL,
    school      text CHECK (length(school) <= 200),
    grade       text CHECK (length(grade) <= 50),
    -- Service codes asked for; NULL means all the structure's services.
    services    text[],
    notes       text CHECK (length(notes) <= 4000),
    UNIQUE (dossier_id, position)
);

CREATE TABLE guardians (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id        bigint NOT NULL REFERENCES dossiers ON DELETE CASCADE,
    position          smallint NOT NULL CHECK (position >= 0),
    first_name        text NOT NULL CHECK (length(first_name) <= 100),
    last_name         text NOT NULL CHECK (length(last_name) <= 100),
    relationship      text CHECK (length(relationship) <= 50),
    email             text CHECK (length(email) <= 254),
    phone             text CHECK (length(phone) <= 40),
    address_line1     text CHECK (length(address_line1) <= 200),
    address_line2     text CHECK (length(address_line2) <= 200),
    postal_code       text CHECK (length(postal_code) <= 10),
    city              text CHECK (length(city) <= 100),
    payer             boolean NOT NULL DEFAULT false,
    emergency_contact boolean NOT NULL DEFAULT false,
    notes             text CHECK (length(notes) <= 4000),
    UNIQUE (dossier_id, position)
);

CREATE TABLE trusted_persons (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id        bigint NOT NULL REFERENCES dossiers ON DELETE CASCADE,
    position          smallint NOT NULL CHECK (position >= 0),
    first_name        text NOT NULL CHECK (length(first_name) <= 100),
    last_name         text NOT NULL CHECK (length(last_name) <= 100),
    relationship      text CHECK (length(relationship) <= 50),
    phone             text CHECK (length(phone) <= 40),
    can_pick_up       boolean NOT NULL DEFAULT true,
    emergency_contact boolean NOT NULL DEFAULT false,
    notes             text CHECK (length(notes) <= 4000),
    UNIQUE (dossier_id, position)
);

CREATE TABLE documents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL REFERENCES dossiers ON DELETE CASCADE,
    position    smallint NOT NULL CHECK (position >= 0),
    kind        text NOT NULL,
    filename    text NOT NULL CHECK (length(filename) <= 255),
    media_type  text NOT NULL CHECK (length(media_type) <= 100),
    size        bigint NOT NULL CHECK (size >= 0),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    notes       text CHECK (length(notes) <= 4000),
    UNIQUE (dossier_id, position)
);

-- The audit trail: one row per state change, written by the trigger below, never changed.
-- `actor` is the worker (`worker:<host>:<pid>`), an administrator, or the import.
CREATE TABLE dossier_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id      bigint NOT NULL REFERENCES dossiers,
    dossier_version integer NOT NULL,
    from_state      dossier_state,
    to_state        dossier_state NOT NULL,
    actor           text NOT NULL CHECK (length(actor) >= 1),
    reason          text,
    -- The decision this transition carries out, when it is one (see 003).
    decision_id     bigint,
    occurred_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossier_events_dossier ON dossier_events (dossier_id, id);

-- Custom SQLSTATEs, matched by the application (Sources/BackOffice/StoreError.swift):
--   ETK01 read-only dossier, ETK02 illegal transition, ETK03 append-only table,
--   ETK04 reservation refused, ETK05 missing actor.

-- The guards below are statement-level triggers over transition tables: one call per statement,
-- checking every row of it with set-based queries, so that a worker's batch of a hundred state
-- changes costs one check, not a hundred. A failed check raises, which undoes the whole statement.

-- Every transition leaves its event; the caller names itself with SET eticket.actor (and may say
-- why with SET eticket.reason). A decision recorded by the same transaction for the same version
-- explains the move: its reason, or the codes of its findings (now() is the transaction's start,
-- the decision's default time). The import creates a dossier as a draft, adds its parts, then
-- submits it: parts can only be written while the family owns the dossier.
-- The planner takes a transition table for one row, and would pair old and new rows by a nested
-- loop (a batch of 2,000 rows: four million comparisons); a hash join is what these joins want.
-- Discouraging nested loops inflates the plans' costs past jit_above_cost: no JIT here either.
CREATE FUNCTION dossiers_check_and_record() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    actor text := nullif(current_setting('eticket.actor', true), '');
    why   text := nullif(current_setting('eticket.reason', true), '');
    bad   record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT state INTO bad FROM new_dossiers WHERE state NOT IN ('draft', 'submitted') LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'a dossier starts as draft or submitted, not %', bad.state USING ERRCODE = 'ETK02';
        END IF;
        -- A draft being created is the portal's business, not a transition.
        IF NOT EXISTS (SELECT 1 FROM new_dossiers WHERE state <> 'draft') THEN
            RETURN NULL;
        END IF;
        IF actor IS NULL THEN
            RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
        END IF;
        INSERT INTO dossier_events (dossier_id, dossier_version, from_state, to_state, actor, reason)
        SELECT id, version, NULL, state, actor, why FROM new_dossiers WHERE state <> 'draft' ORDER BY id;
        RETURN NULL;
    END IF;

    SELECT o.external_id, o.state AS from_state, n.state AS to_state INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE n.state <> o.state
      AND NOT EXISTS (SELECT 1 FROM dossier_transitions t WHERE t.from_state = o.state AND t.to_state = n.state)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot move from % to %', bad.external_id, bad.from_state, bad.to_state
            USING ERRCODE = 'ETK02';
    END IF;
    -- Read-only after sending: only a transition may touch a dossier the family no longer owns.
    SELECT o.external_id, o.state INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE o.state NOT IN ('draft', 'returned')
      AND (to_jsonb(n) - 'state' - 'updated_at') IS DISTINCT FROM (to_jsonb(o) - 'state' - 'updated_at')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only', bad.external_id, bad.state USING ERRCODE = 'ETK01';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM old_dossiers o JOIN new_dossiers n USING (id) WHERE n.state <> o.state) THEN
        RETURN NULL;
    END IF;
    IF actor IS NULL THEN
        RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
    END IF;
    -- (PL/pgSQL resolves `decisions`, created by 003, when this first runs.)
    INSERT INTO dossier_events (dossier_id, dossier_version, from_state, to_state, actor, reason, decision_id)
    SELECT n.id, n.version, o.state, n.state, actor, coalesce(why, x.explanation), x.id
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    LEFT JOIN LATERAL (
        SELECT d.id, coalesce(d.reason, (SELECT string_agg(f->>'code', ', ') FROM jsonb_array_elements(d.findings) f)) AS explanation
        FROM decisions d
        WHERE d.dossier_id = n.id AND d.dossier_version = n.version AND d.decided_at = now()
          AND d.outcome::text = n.state::text
        ORDER BY d.id DESC LIMIT 1
    ) x ON true
    WHERE n.state <> o.state
    ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossiers_inserted AFTER INSERT ON dossiers
    REFERENCING NEW TABLE AS new_dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossiers_check_and_record();
CREATE TRIGGER dossiers_updated AFTER UPDATE ON dossiers
    REFERENCING OLD TABLE AS old_dossiers NEW TABLE AS new_dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossiers_check_and_record();

CREATE FUNCTION dossiers_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER dossiers_touch BEFORE UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossiers_touch();

-- One function for the four part tables and the three kinds of change, as PostgreSQL's manual
-- does for auditing with transition tables: each branch reads only the tables its event has.
CREATE FUNCTION dossier_parts_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM old_parts) AND d.state NOT IN ('draft', 'returned') LIMIT 1;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM new_parts) AND d.state NOT IN ('draft', 'returned') LIMIT 1;
    ELSE
        IF EXISTS (SELECT 1 FROM old_parts o JOIN new_parts n USING (id) WHERE n.dossier_id <> o.dossier_id) THEN
            RAISE EXCEPTION '% cannot move to another dossier', TG_TABLE_NAME USING ERRCODE = 'ETK01';
        END IF;
        SELECT d.external_id, d.state INTO bad FROM dossiers d
        WHERE d.id IN (SELECT dossier_id FROM new_parts UNION SELECT dossier_id FROM old_parts)
          AND d.state NOT IN ('draft', 'returned') LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', bad.external_id, bad.state, TG_TABLE_NAME
            USING ERRCODE = 'ETK01';
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

CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'ETK03';
END
$$;
CREATE TRIGGER dossier_events_append_only BEFORE UPDATE OR DELETE ON dossier_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER dossier_events_no_truncate BEFORE TRUNCATE ON dossier_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
