-- Structures and what they offer: document kinds, services, periods.
--
-- This file and the ones after it, up to 013, are the baseline schema: one file per concept, each
-- object in its final form (issue 17 replaced the history of migrations 001-017 with it). Later
-- migrations (018 on) change it.
-- Applied from the structures file (contracts/structures.schema.json); the checks below repeat the
-- contract so that a hand-written INSERT cannot store what the file could not say.

CREATE TYPE review_mode AS ENUM ('automatic', 'manual');
CREATE TYPE rights_opening AS ENUM ('on_validation', 'scheduled', 'manual');

-- IMMUTABLE so that it can sit in a CHECK: a time zone name does not change meaning.
CREATE FUNCTION is_time_zone(name text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM now() AT TIME ZONE name;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END
$$;

CREATE FUNCTION dates_within(days date[], first date, last date) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(bool_and(day BETWEEN first AND last), true) FROM unnest(days) AS day
$$;

CREATE TABLE structures (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    postal_codes      text[] NOT NULL CHECK (cardinality(postal_codes) >= 1
                          AND array_to_string(postal_codes, ',') ~ '^[0-9]{5}(,[0-9]{5})*$'),
    registration_code text NOT NULL UNIQUE CHECK (length(registration_code) BETWEEN 4 AND 64),
    timezone          text NOT NULL DEFAULT 'Europe/Paris' CHECK (is_time_zone(timezone)),
    locale            text NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
    sender_name       text NOT NULL CHECK (length(sender_name) BETWEEN 1 AND 200),
    sender_email      text NOT NULL CHECK (sender_email ~ '^[^@\s]+@[^@\s]+$'),
    reply_to          text CHECK (reply_to ~ '^[^@\s]+@[^@\s]+$'),
    portal_url        text CHECK (portal_url ~ '^[A-Za-z][A-Za-z0-9+.-]*:'),
    review            review_mode NOT NULL,
    rights_opening    rights_opening NOT NULL,
    notes             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- How long a returned dossier that the family never sent again keeps its personal data (007).
    retention_days    integer NOT NULL DEFAULT 365 CHECK (retention_days >= 0)
);

CREATE TABLE document_kinds (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id bigint NOT NULL REFERENCES structures,
    kind         text NOT NULL CHECK (kind ~ '^[a-z0-9][a-z0-9-]{0,62}$' AND kind <> 'free'),
    label        text NOT NULL CHECK (length(label) >= 1),
    required     boolean NOT NULL,
    notes        text,
    UNIQUE (structure_id, kind)
);

CREATE TABLE services (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id bigint NOT NULL REFERENCES structures,
    code         text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    label        text NOT NULL CHECK (length(label) >= 1),
    -- ISO 8601 day numbers, 1 = Monday.
    weekdays     smallint[] NOT NULL CHECK (cardinality(weekdays) >= 1
                     AND weekdays <@ '{1,2,3,4,5,6,7}'::smallint[]),
    notes        text,
    UNIQUE (structure_id, code)
);

CREATE TABLE periods (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    structure_id      bigint NOT NULL REFERENCES structures,
    code              text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    label             text NOT NULL CHECK (length(label) >= 1),
    starts_on         date NOT NULL,
    ends_on           date NOT NULL,
    planning_opens_at timestamptz,
    closed_dates      date[] NOT NULL DEFAULT '{}',
    notes             text,
    UNIQUE (structure_id, code),
    CHECK (ends_on >= starts_on),
    CHECK (dates_within(closed_dates, starts_on, ends_on))
);
