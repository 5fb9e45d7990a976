-- A dossier's guardians, trusted persons and documents are what the family sent, stored once
-- (issue 17, point 5: the import's WAL).
--
-- The import stored every line twice: whole, as the record's `content` (which the worker judges),
-- and split into the part tables. For these three parts the copy served only `dossier show` and
-- hand-written queries, and cost a third of an imported dossier's WAL (about 890 B: rows, their
-- `(dossier_id, position)` indexes, three COPYs). They are now views of the content, under the same
-- names and columns (a part's `id`, which nothing named, is gone: a part is its dossier and
-- position, its place in the list the family sent). Children stay a table: rights and
-- reservations name a child by its id.
--
-- What the tables guaranteed still holds, and more:
-- - Read-only after sending: the content is the record's, which the record guard (009) keeps
--   read-only; a write through a view is refused first with the part's own message (ETK01).
-- - A part names a dossier that exists: it is read from one.
-- - One per position: a position is an index in a JSON array.
-- - The parts and the content can no longer disagree.
-- - A purge (`content = '{}'`) takes them with the content.
-- - Each administrator sees only their structures' parts: the views run with the reader's rights
--   (`security_invoker`), under the records' row-level security.
-- The views read the content defensively: the content is checked against the contract by the
-- import and again by the worker, not by the database, so a value of the wrong JSON type written
-- by hand reads as NULL (or the contract's default) instead of failing every reader's query.

DROP TABLE guardians, trusted_persons, documents;

-- The list `name` of a dossier's content, empty when there is none (a purged dossier's '{}').
CREATE FUNCTION dossier_content_list(content jsonb, name text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(content -> name) = 'array' THEN content -> name ELSE '[]'::jsonb END
$$;

-- A JSON boolean, or `otherwise` for anything else (absent: the contract's default).
CREATE FUNCTION dossier_content_flag(value jsonb, otherwise boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'boolean' THEN value::text::boolean ELSE otherwise END
$$;

-- A size: a whole JSON number that fits a bigint, however it is written (the contract's integer
-- accepts `2.0` and `20e-1`), else NULL.
CREATE FUNCTION dossier_content_size(value jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN n = trunc(n) AND n BETWEEN 0 AND 9223372036854775807 THEN n::bigint END
    FROM (SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN (value #>> '{}')::numeric END AS n) AS number
$$;

CREATE VIEW guardians WITH (security_invoker = true) AS
SELECT r.id AS dossier_id, (p.ordinality - 1)::integer AS position,
       p.part ->> 'first_name' AS first_name, p.part ->> 'last_name' AS last_name,
       p.part ->> 'relationship' AS relationship, p.part ->> 'email' AS email, p.part ->> 'phone' AS phone,
       p.part -> 'address' ->> 'line1' AS address_line1, p.part -> 'address' ->> 'line2' AS address_line2,
       p.part -> 'address' ->> 'postal_code' AS postal_code, p.part -> 'address' ->> 'city' AS city,
       dossier_content_flag(p.part -> 'payer', false) AS payer,
       dossier_content_flag(p.part -> 'emergency_contact', false) AS emergency_contact,
       p.part ->> 'notes' AS notes
FROM dossier_records r
CROSS JOIN LATERAL jsonb_array_elements(dossier_content_list(r.content, 'guardians')) WITH ORDINALITY AS p(part, ordinality);

CREATE VIEW trusted_persons WITH (security_invoker = true) AS
SELECT r.id AS dossier_id, (p.ordinality - 1)::integer AS position,
       p.part ->> 'first_name' AS first_name, p.part ->> 'last_name' AS last_name,
       p.part ->> 'relationship' AS relationship, p.part ->> 'phone' AS phone,
       dossier_content_flag(p.part -> 'can_pick_up', true) AS can_pick_up,
       dossier_content_flag(p.part -> 'emergency_contact', false) AS emergency_contact,
       p.part ->> 'notes' AS notes
FROM dossier_records r
CROSS JOIN LATERAL jsonb_array_elements(dossier_content_list(r.content, 'trusted_persons')) WITH ORDINALITY AS p(part, ordinality);

CREATE VIEW documents WITH (security_invoker = true) AS
SELECT r.id AS dossier_id, (p.ordinality - 1)::integer AS position,
       p.part ->> 'kind' AS kind, p.part ->> 'filename' AS filename, p.part ->> 'media_type' AS media_type,
       dossier_content_size(p.part -> 'size') AS size,
       p.part ->> 'sha256' AS sha256, p.part ->> 'notes' AS notes
FROM dossier_records r
CROSS JOIN LATERAL jsonb_array_elements(dossier_content_list(r.content, 'documents')) WITH ORDINALITY AS p(part, ordinality);

-- What the part tables refused, a write through a view refuses, in the same words. What they
-- accepted (a part of a draft, or of a returned dossier by the owner) is written into the content,
-- where the record guard judges it again: a part is inserted at its position (0 to the list's
-- length), changed in place, or deleted, the later ones moving up.
--
-- A table's row kept its identity while others were written around it; a part is an index in a
-- list that moves. So a changed or deleted part is looked up again, under the record's lock, as
-- the element that still reads as the row the statement saw (the nearest to where it was: an
-- earlier row of the same statement, or a transaction that was holding the lock, may have moved
-- it; equal elements are interchangeable). A part that is gone or changed meanwhile is a
-- serialization failure (40001), as PostgreSQL reports a row changed under a repeatable read.
CREATE FUNCTION dossier_part_written() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    list    text := TG_TABLE_NAME;
    dossier bigint := CASE TG_OP WHEN 'DELETE' THEN OLD.dossier_id ELSE NEW.dossier_id END;
    owner   boolean := acts_as_owner('dossier_records');
    bad     record;
    parts   jsonb;
    place   integer;  -- where the part the statement read is now
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.dossier_id IS DISTINCT FROM OLD.dossier_id OR NEW.position IS DISTINCT FROM OLD.position) THEN
        RAISE EXCEPTION '% cannot move to another dossier or position', list USING ERRCODE = 'ETK01';
    END IF;
    SELECT * INTO bad
    FROM dossiers_not_writable(ARRAY[dossier], CASE WHEN owner THEN '{draft,returned}' ELSE '{draft}' END::dossier_state[]);
    IF FOUND AND bad.state IS NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" names dossier %, which does not exist', list, dossier
            USING ERRCODE = '23503';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', dossier_external_id(dossier), bad.state, list
            USING ERRCODE = 'ETK01';
    END IF;
    SELECT dossier_content_list(r.content, list) INTO parts FROM dossier_records r WHERE r.id = dossier FOR UPDATE;
    IF TG_OP <> 'INSERT' THEN
        -- (The view read again: this statement's snapshot sees the list as it is now, locked.)
        EXECUTE format('SELECT p.position FROM %I p WHERE p.dossier_id = $1 AND to_jsonb(p) - ''position'' = to_jsonb($2::%I) - ''position''
                        ORDER BY abs(p.position - $3), p.position LIMIT 1', list, list)
            INTO place USING dossier, OLD, OLD.position;
        IF place IS NULL THEN
            RAISE EXCEPTION 'a % of dossier % changed while this statement ran; run it again', list,
                dossier_external_id(dossier) USING ERRCODE = '40001';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        parts := parts - place;
    ELSIF TG_OP = 'UPDATE' THEN
        parts := jsonb_set(parts, ARRAY[place::text], dossier_part_object(list, NEW));
    ELSIF NEW.position IS NULL OR NEW.position NOT BETWEEN 0 AND jsonb_array_length(parts) THEN
        RAISE EXCEPTION 'a new % of dossier % goes at a position from 0 to %, not %', list,
            dossier_external_id(dossier), jsonb_array_length(parts), coalesce(NEW.position::text, 'none')
            USING ERRCODE = '22023';
    ELSE
        parts := jsonb_insert(parts, ARRAY[NEW.position::text], dossier_part_object(list, NEW));
    END IF;
    UPDATE dossier_records SET content = jsonb_set(content, ARRAY[list], parts) WHERE id = dossier;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- A view's row as the contract writes the part: absent fields left out, the address nested; the
-- limits the tables' CHECKs kept (23514, under the tables' constraint names).
CREATE FUNCTION dossier_part_object(list text, part record) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    fields jsonb := to_jsonb(part) - 'dossier_id' - 'position';
    limits jsonb := CASE list
        WHEN 'guardians' THEN '{"first_name": 100, "last_name": 100, "relationship": 50, "email": 254, "phone": 40,
                                "address_line1": 200, "address_line2": 200, "postal_code": 10, "city": 100, "notes": 4000}'
        WHEN 'trusted_persons' THEN '{"first_name": 100, "last_name": 100, "relationship": 50, "phone": 40, "notes": 4000}'
        ELSE '{"filename": 255, "media_type": 100, "notes": 4000}' END;
    required text[] := CASE list WHEN 'documents' THEN '{kind,filename,media_type,size,sha256}' ELSE '{first_name,last_name}' END;
    field   text;
BEGIN
    FOREACH field IN ARRAY required LOOP
        IF fields ->> field IS NULL THEN
            RAISE EXCEPTION 'null value in column "%" of relation "%" violates not-null constraint', field, list
                USING ERRCODE = '23502';
        END IF;
    END LOOP;
    FOR field IN SELECT key FROM jsonb_each_text(limits) WHERE length(fields ->> key) > value::integer LOOP
        RAISE EXCEPTION 'new row for relation "%" violates check constraint "%_%_check"', list, list, field
            USING ERRCODE = '23514';
    END LOOP;
    IF list = 'documents' AND ((fields ->> 'size')::bigint < 0 OR octet_length(fields ->> 'sha256') <> 64
                               OR fields ->> 'sha256' !~ '^[0-9a-f]+$') THEN
        RAISE EXCEPTION 'new row for relation "documents" violates check constraint "documents_%_check"',
            CASE WHEN (fields ->> 'size')::bigint < 0 THEN 'size' ELSE 'sha256' END USING ERRCODE = '23514';
    END IF;
    IF list = 'guardians' THEN
        fields := fields - '{address_line1,address_line2,postal_code,city}'::text[]
            || jsonb_build_object('address', nullif(jsonb_strip_nulls(jsonb_build_object(
                   'line1', part.address_line1, 'line2', part.address_line2,
                   'postal_code', part.postal_code, 'city', part.city)), '{}'));
    END IF;
    RETURN jsonb_strip_nulls(fields);
END
$$;

DO $$
DECLARE
    part text;
BEGIN
    FOREACH part IN ARRAY ARRAY['guardians', 'trusted_persons', 'documents'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_written INSTEAD OF INSERT OR UPDATE OR DELETE ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION dossier_part_written()', part);
        EXECUTE format('GRANT SELECT ON %I TO eticket_worker, eticket_intake, eticket_admin', part);
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %I TO eticket_admin', part);
        EXECUTE format('GRANT INSERT, DELETE ON %I TO eticket_intake', part);
    END LOOP;
END
$$;

-- A deleted dossier's parts went with it by hand; now only its status and children do.
CREATE OR REPLACE FUNCTION dossier_records_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT o.id, o.external_id INTO bad FROM old_records o
    WHERE EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM decisions d WHERE d.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM email_outbox m WHERE m.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM reservation_rights r WHERE r.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM dossier_queue q WHERE q.dossier_id = o.id)
       OR EXISTS (SELECT 1 FROM purges p WHERE p.dossier_id = o.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is named by its history and cannot be deleted', bad.external_id
            USING ERRCODE = '23503';
    END IF;
    DELETE FROM dossier_status WHERE dossier_id IN (SELECT id FROM old_records);
    DELETE FROM children WHERE dossier_id IN (SELECT id FROM old_records);
    RETURN NULL;
END
$$;
