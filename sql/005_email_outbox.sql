-- Rendered emails waiting for the mail relay. A row holds the exact bytes that will be exported
-- (the JSON Lines export reads the text, html and headers back from them); it is written in the
-- same transaction as the decision or the rights opening that causes it.

CREATE TYPE email_kind AS ENUM ('dossier-processed', 'planning-open');

CREATE TABLE email_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id   bigint NOT NULL,
    structure_id bigint NOT NULL,
    kind         email_kind NOT NULL,
    -- The decision a dossier-processed email tells of; the period a planning-open email opens.
    -- Read by the writer's ON CONFLICT DO NOTHING: a decision is mailed once.
    decision_id  bigint UNIQUE,
    period_id    bigint,
    message_id   text NOT NULL UNIQUE,
    sender       text NOT NULL,
    recipient    text NOT NULL,
    subject      text NOT NULL,
    -- lz4 compresses a message several times faster than pglz.
    message      bytea COMPRESSION lz4 NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    exported_at  timestamptz,
    CHECK ((kind = 'dossier-processed') = (decision_id IS NOT NULL)),
    CHECK ((kind = 'planning-open') = (period_id IS NOT NULL))
);
-- At most one planning-open email per dossier and period, however often rights are opened (and
-- the writer's ON CONFLICT DO NOTHING for it).
CREATE UNIQUE INDEX email_outbox_one_planning_open ON email_outbox (dossier_id, period_id)
    WHERE kind = 'planning-open';
-- Read by the export: the pending emails, oldest first.
CREATE INDEX email_outbox_pending ON email_outbox (id) WHERE exported_at IS NULL;

-- An email is written by the transaction that caused it: a dossier-processed email by the one
-- whose event carried out its decision on that dossier, a planning-open email by the one that
-- opened rights of that dossier for that period (for the application's roles); and, for anyone,
-- its dossier is of its structure. One index probe per email into the events or the rights, and
-- one into dossier_records: that is also the emails' referential integrity (the decision is the
-- event's, the period the rights').
CREATE FUNCTION email_outbox_caused_here() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner boolean := acts_as_owner(TG_RELID);
    bad   record;
BEGIN
    SELECT n.kind, n.dossier_id INTO bad FROM new_emails n
    WHERE NOT EXISTS (SELECT 1 FROM dossier_records d WHERE d.id = n.dossier_id AND d.structure_id = n.structure_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a % email names dossier % of another structure, or none', bad.kind, bad.dossier_id
            USING ERRCODE = '23503';
    END IF;
    SELECT n.kind, n.dossier_id INTO bad FROM new_emails n
    WHERE CASE n.kind
          WHEN 'dossier-processed' THEN
              NOT EXISTS (SELECT 1 FROM dossier_events e
                          WHERE e.dossier_id = n.dossier_id AND e.decision_id = n.decision_id
                            AND (owner OR e.occurred_at = now()))
          ELSE
              NOT EXISTS (SELECT 1 FROM reservation_rights r
                          WHERE r.dossier_id = n.dossier_id AND r.period_id = n.period_id
                            AND (owner OR r.opened_at = now()))
          END
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a % email for dossier % needs its cause (%) in the same transaction', bad.kind, bad.dossier_id,
            CASE bad.kind WHEN 'dossier-processed' THEN 'the decision carried out' ELSE 'the rights opened' END
            USING ERRCODE = 'ETK08';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER email_outbox_caused_here AFTER INSERT ON email_outbox
    REFERENCING NEW TABLE AS new_emails
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_caused_here();
