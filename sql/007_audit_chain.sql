-- A tamper-evident audit trail: each dossier_events row carries the hash of the previous event of
-- its dossier and a hash over its own fields and that link. Changing, removing or reordering an
-- event behind the product's back breaks the chain; `eticket audit verify` recomputes it.
-- (Without an anchor outside the database, someone able to rewrite the whole chain of a dossier
-- could also rewrite its hashes; the chain makes edits evident, not impossible.)

ALTER TABLE dossier_events ADD COLUMN previous_hash text, ADD COLUMN hash text;

-- Every field quoted or NULL, so that no two different events share a text.
CREATE FUNCTION dossier_event_digest(e dossier_events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        quote_nullable(e.id), quote_nullable(e.dossier_id), quote_nullable(e.dossier_version),
        quote_nullable(e.from_state::text), quote_nullable(e.to_state::text), quote_nullable(e.actor),
        quote_nullable(e.reason), quote_nullable(e.decision_id),
        quote_nullable(to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        quote_nullable(e.previous_hash)), 'UTF8')), 'hex')
$$;

-- Events of one dossier are written one at a time: the state change that causes each holds the
-- dossier's row lock, so reading the last hash here cannot race.
CREATE FUNCTION dossier_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.previous_hash := (SELECT hash FROM dossier_events WHERE dossier_id = NEW.dossier_id ORDER BY id DESC LIMIT 1);
    NEW.hash := dossier_event_digest(NEW);
    RETURN NEW;
END
$$;

ALTER TABLE dossier_events DISABLE TRIGGER dossier_events_append_only;
DO $$
DECLARE
    event dossier_events;
    previous text;
    current_dossier bigint;
BEGIN
    FOR event IN SELECT * FROM dossier_events ORDER BY dossier_id, id LOOP
        IF event.dossier_id IS DISTINCT FROM current_dossier THEN
            previous := NULL;
            current_dossier := event.dossier_id;
        END IF;
        event.previous_hash := previous;
        previous := dossier_event_digest(event);
        UPDATE dossier_events SET previous_hash = event.previous_hash, hash = previous WHERE id = event.id;
    END LOOP;
END
$$;
ALTER TABLE dossier_events ENABLE TRIGGER dossier_events_append_only;
ALTER TABLE dossier_events ALTER COLUMN hash SET NOT NULL;

CREATE TRIGGER dossier_events_chain BEFORE INSERT ON dossier_events
    FOR EACH ROW EXECUTE FUNCTION dossier_event_chain();
