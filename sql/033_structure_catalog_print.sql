-- A worker writes its emails' particulars from the structures as the first statement of its batch
-- read them (labels, weekdays, periods, openings, time zone); the database's own statement read
-- them when it wrote the email. So that an administrator's change committed in between
-- (`structures apply`, or by hand) never reaches a family as an email that no state of the
-- database said, the worker reads a print of the structures it used, and the emails' statement
-- checks it is still theirs: if not, the statement fails as a serialization failure and the batch
-- is written again, the structures read anew.

-- The print of these structures, their services and their periods: each row's id and the
-- transaction that wrote it last (`xmin`), which any change, insert or delete alters. An update
-- that writes the same values alters it too: the batch is then written again for nothing.
CREATE FUNCTION structure_catalogs_print(ids bigint[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RETURN concat_ws('/',
        (SELECT string_agg(s.id || ':' || s.xmin, ',' ORDER BY s.id) FROM structures s WHERE s.id = ANY (ids)),
        (SELECT string_agg(v.id || ':' || v.xmin, ',' ORDER BY v.id) FROM services v WHERE v.structure_id = ANY (ids)),
        (SELECT string_agg(p.id || ':' || p.xmin, ',' ORDER BY p.id) FROM periods p WHERE p.structure_id = ANY (ids)));
END
$$;

-- True when the structures' print is still `print`; a serialization failure (40001) when it is
-- not, so that the caller writes its batch again.
CREATE FUNCTION structure_catalogs_unchanged(ids bigint[], print text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF structure_catalogs_print(ids) IS DISTINCT FROM print THEN
        RAISE EXCEPTION 'a structure''s services, periods, time zone or rights opening changed during the batch'
            USING ERRCODE = '40001', HINT = 'the batch is written again, with the structures as they are now';
    END IF;
    RETURN true;
END
$$;
