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

CREATE FUNCTION dossier_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state NOT IN ('draft', 'submitted') THEN
            RAISE EXCEPTION 'a dossier starts as draft or submitted, not %', NEW.state
                USING ERRCODE = 'ETK02';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM dossier_transitions WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'dossier % cannot move from % to %', OLD.external_id, OLD.state, NEW.state
            USING ERRCODE = 'ETK02';
    END IF;
    -- Read-only after sending: only a transition may touch a dossier the family no longer owns.
    IF OLD.state NOT IN ('draft', 'returned')
        AND (to_jsonb(NEW) - 'state' - 'updated_at') IS DISTINCT FROM (to_jsonb(OLD) - 'state' - 'updated_at')
    THEN
        RAISE EXCEPTION 'dossier % is % and read-only', OLD.external_id, OLD.state
            USING ERRCODE = 'ETK01';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER dossiers_guard BEFORE INSERT OR UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossier_guard();

-- Every transition leaves its event; the caller names itself with SET eticket.actor (and may say
-- why with SET eticket.reason). The import creates a dossier as a draft, adds its parts, then
-- submits it: parts can only be written while the family owns the dossier.
CREATE FUNCTION dossier_record_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    actor    text := nullif(current_setting('eticket.actor', true), '');
    why      text;
    decision bigint;
BEGIN
    -- A draft being created is the portal's business, not a transition.
    IF (TG_OP = 'UPDATE' AND NEW.state IS NOT DISTINCT FROM OLD.state)
        OR (TG_OP = 'INSERT' AND NEW.state = 'draft') THEN
        RETURN NULL;
    END IF;
    IF actor IS NULL THEN
        RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor'
            USING ERRCODE = 'ETK05';
    END IF;
    -- A decision recorded by this transaction for this version explains the move: its reason, or
    -- the codes of its findings. (now() is the transaction's start, the decision's default time.)
    -- (PL/pgSQL resolves `decisions`, created by 003, when this first runs.)
    SELECT id, coalesce(decisions.reason,
                        (SELECT string_agg(f->>'code', ', ') FROM jsonb_array_elements(findings) f))
    INTO decision, why
    FROM decisions WHERE dossier_id = NEW.id AND dossier_version = NEW.version AND decided_at = now()
      AND outcome::text = NEW.state::text
    ORDER BY id DESC LIMIT 1;
    why := coalesce(nullif(current_setting('eticket.reason', true), ''), why);
    INSERT INTO dossier_events (dossier_id, dossier_version, from_state, to_state, actor, reason, decision_id)
    VALUES (NEW.id, NEW.version, CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state, actor, why,
            decision);
    RETURN NULL;
END
$$;
CREATE TRIGGER dossiers_record_event AFTER INSERT OR UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossier_record_event();

CREATE FUNCTION dossier_part_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    part_dossier bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.dossier_id ELSE NEW.dossier_id END;
    current dossier_state;
    reference text;
BEGIN
    SELECT state, external_id INTO current, reference FROM dossiers WHERE id = part_dossier;
    IF current IS NOT NULL AND current NOT IN ('draft', 'returned') THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', reference, current, TG_TABLE_NAME
            USING ERRCODE = 'ETK01';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.dossier_id <> OLD.dossier_id THEN
        RAISE EXCEPTION '% cannot move to another dossier', TG_TABLE_NAME USING ERRCODE = 'ETK01';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER children_guard BEFORE INSERT OR UPDATE OR DELETE ON children
    FOR EACH ROW EXECUTE FUNCTION dossier_part_guard();
CREATE TRIGGER guardians_guard BEFORE INSERT OR UPDATE OR DELETE ON guardians
    FOR EACH ROW EXECUTE FUNCTION dossier_part_guard();
CREATE TRIGGER trusted_persons_guard BEFORE INSERT OR UPDATE OR DELETE ON trusted_persons
    FOR EACH ROW EXECUTE FUNCTION dossier_part_guard();
CREATE TRIGGER documents_guard BEFORE INSERT OR UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION dossier_part_guard();

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
