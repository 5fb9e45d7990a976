-- Families' accounts and dossiers, and the dossiers' parts.
--
-- A dossier is two rows: its record (what the family sent: about 1.6 kB, content included), which
-- never changes once sent, and its status (state and version, a few dozen bytes), which every
-- decision moves. Kept apart, a state change writes a narrow row version on the same page (HOT:
-- nothing indexes the state) instead of a new 1.6 kB version of the record and four index
-- entries, and the read-only rule is a rule of the record table, not a comparison of every column
-- on every state change (issue 17: 43 % of the worker's WAL). `dossiers` is the view that joins
-- them, as administrators read and write it (011 routes its writes).

CREATE TYPE dossier_state AS ENUM
    ('draft', 'submitted', 'awaiting_review', 'validated', 'returned', 'rejected', 'planning_open');

-- The allowed transitions. Sources/Dossiers/DossierStateMachine.swift holds the same table; a test
-- compares the two. The state guards probe its primary key once per moved dossier.
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
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- A dossier's account is an account of the dossier's structure (the key below).
    CONSTRAINT accounts_id_structure UNIQUE (id, structure_id)
);
-- Read by the import's account upsert (ON CONFLICT) and the administrators' look-ups by address.
CREATE UNIQUE INDEX accounts_structure_email ON accounts (structure_id, lower(email));

-- What the family sent. The portal's stable id (external_id) survives a return and a resubmission,
-- which write the next version's content here.
CREATE TABLE dossier_records (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id            bigint NOT NULL,
    account_id              bigint NOT NULL,
    external_id             text NOT NULL UNIQUE CHECK (external_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    locale                  text NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
    confirmed               boolean NOT NULL,
    terms_accepted_at       timestamptz,
    house_rules_accepted_at timestamptz,
    submitted_at            timestamptz,
    notes                   text CHECK (length(notes) <= 4000),
    -- The line as the portal sent it: the audit copy, and what a decision's hash is taken over.
    content                 jsonb NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    -- Set by `dossiers purge` (007) when the personal data is gone.
    purged_at               timestamptz,
    -- The account belongs to the dossier's structure (its structure follows through the account).
    CONSTRAINT dossiers_account_of_its_structure
        FOREIGN KEY (account_id, structure_id) REFERENCES accounts (id, structure_id)
);

-- Where a dossier stands. Narrow and unindexed but for its key, with room left on each page, so
-- that a state change is a heap-only update on the same page.
CREATE TABLE dossier_status (
    dossier_id bigint PRIMARY KEY,
    version    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    state      dossier_state NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

-- The time of the last change is the database's, not the writer's.
CREATE FUNCTION dossier_status_touch() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER dossier_status_touch BEFORE UPDATE ON dossier_status
    FOR EACH ROW EXECUTE FUNCTION dossier_status_touch();

-- The dossier as one row, as it always read. Rights and row-level security are the caller's
-- (security_invoker): an administrator sees through it only its structures' dossiers.
CREATE VIEW dossiers WITH (security_invoker = true) AS
SELECT r.id, r.structure_id, r.account_id, r.external_id, s.version, s.state, r.locale, r.confirmed,
       r.terms_accepted_at, r.house_rules_accepted_at, r.submitted_at, r.notes, r.content, r.created_at,
       s.updated_at, r.purged_at
FROM dossier_records r JOIN dossier_status s ON s.dossier_id = r.id;
ALTER VIEW dossiers ALTER COLUMN version SET DEFAULT 1;
ALTER VIEW dossiers ALTER COLUMN locale SET DEFAULT 'fr';
ALTER VIEW dossiers ALTER COLUMN created_at SET DEFAULT now();
ALTER VIEW dossiers ALTER COLUMN updated_at SET DEFAULT now();

-- The parts: what the import splits a dossier's content into. Their dossier is checked by the
-- parts guard (009), set-based, instead of a foreign key's query and lock per row.
CREATE TABLE children (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL,
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
    dossier_id        bigint NOT NULL,
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
    dossier_id        bigint NOT NULL,
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
    dossier_id  bigint NOT NULL,
    position    smallint NOT NULL CHECK (position >= 0),
    kind        text NOT NULL,
    filename    text NOT NULL CHECK (length(filename) <= 255),
    media_type  text NOT NULL CHECK (length(media_type) <= 100),
    size        bigint NOT NULL CHECK (size >= 0),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    notes       text CHECK (length(notes) <= 4000),
    UNIQUE (dossier_id, position)
);

-- Custom SQLSTATEs, matched by the application (Sources/BackOffice/StoreError.swift):
--   ETK01 read-only dossier, ETK02 illegal transition, ETK03 append-only table,
--   ETK04 reservation refused, ETK05 missing or unfitting actor, ETK06 a move this role may not
--   make, ETK07 a decided state without its decision, ETK08 an email without its cause.

CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'ETK03';
END
$$;

-- Whether the caller owns the table a trigger fires on. The owner runs the migrations and can
-- switch any trigger off: the rules about roles bind the application's roles, not it.
CREATE FUNCTION acts_as_owner(guarded regclass) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_has_role(current_user, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = guarded), 'USAGE')
$$;
