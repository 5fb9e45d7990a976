-- An outbox row keeps what is particular to its email, and the email is rendered when it leaves:
-- by the export, by the sender, for `outbox show` and `outbox list`.
--
-- Until now a row held the rendered message: 4.6 kB for dossier-processed, 15 kB for
-- planning-open with its calendars, about 2.3 and 3.1 kB once lz4 had compressed them, which
-- PostgreSQL moves to TOAST in two chunks. That was 3.8 kB of WAL an email and more than half of
-- what processing a dossier cost the server, and rendering was most of the worker's own CPU.
-- A row now holds, in `particulars`, what the family's data said when the email was decided (the
-- dossier's language and id, the names, the children, the rights just opened and the days already
-- reserved, when the children can reserve) and, in `template_set`, the SHA-256 of the exact
-- template files the email is rendered with. Rendering is deterministic (the MIME boundary is a
-- digest of the content; Message-ID and Date are the row's `message_id` and `created_at`), so
-- every render of a row gives the same bytes.
--
-- What the email says of the structure (its names, sender name, branding, contact) and of the
-- period (its label, its dates, its closed days) is read when it is rendered: an email waiting in
-- the outbox goes out with the structure's current branding and calendar. The sender and
-- recipient addresses stay the row's, held to the structure and the family by 027.
--
-- Rows written before this migration keep their rendered `message` and are sent as they are.

-- Template files, stored once per distinct set and never changed: an email decided with a set is
-- rendered with that set, whatever the renderer's host has on disk.
CREATE TABLE email_template_sets (
    -- The digest is the database's own, of the files as stored: no role can name a set for
    -- another content.
    sha256    bytea GENERATED ALWAYS AS (sha256(files)) STORED PRIMARY KEY,
    -- A JSON object: each file's path under the template directory, and its text.
    files     bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only, for every role, the owner included: a set that changed or went away would change,
-- or lose, the emails rendered with it.
CREATE FUNCTION email_template_sets_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'email template sets are never changed nor removed (%)', lower(TG_OP)
        USING ERRCODE = 'ETK11', HINT = 'a new template set is stored beside the old one';
END
$$;
CREATE TRIGGER email_template_sets_append_only BEFORE UPDATE OR DELETE ON email_template_sets
    FOR EACH ROW EXECUTE FUNCTION email_template_sets_append_only();
CREATE TRIGGER email_template_sets_not_truncated BEFORE TRUNCATE ON email_template_sets
    FOR EACH STATEMENT EXECUTE FUNCTION email_template_sets_append_only();

GRANT SELECT ON email_template_sets TO eticket_worker, eticket_admin;
GRANT INSERT (files) ON email_template_sets TO eticket_worker, eticket_admin;

ALTER TABLE email_outbox
    ALTER COLUMN message DROP NOT NULL,
    ALTER COLUMN subject DROP NOT NULL,
    ADD COLUMN particulars json,
    ADD COLUMN template_set bytea,
    ADD CONSTRAINT email_outbox_rendered_or_renderable CHECK (
        (message IS NOT NULL AND subject IS NOT NULL)
        OR (particulars IS NOT NULL AND template_set IS NOT NULL));

GRANT INSERT (particulars, template_set) ON email_outbox TO eticket_worker, eticket_admin;

-- An email names a stored template set: set-based, one probe of the set's key per statement's
-- distinct set (a foreign key would lock the set's row once per email). The sets' own trigger
-- keeps them from going away.
CREATE FUNCTION email_outbox_template_set_stored() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.dossier_id INTO bad FROM new_emails n
    WHERE n.template_set IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM email_template_sets t WHERE t.sha256 = n.template_set)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'email % of dossier % names a template set that is not stored', bad.id, bad.dossier_id
            USING ERRCODE = '23503', HINT = 'store the set in email_template_sets first';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER email_outbox_template_set_stored AFTER INSERT ON email_outbox
    REFERENCING NEW TABLE AS new_emails
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_template_set_stored();

-- The cause of each email, probed by index whatever the sizes: 005's one query tested both kinds
-- in a CASE, whose NOT EXISTS the planner may turn into hashed subplans, each a whole scan of
-- dossier_events or reservation_rights for every inserting statement (25 ms a worker batch at
-- 20,000 dossiers, growing with the tables). One query per kind, each NOT EXISTS at the top
-- level, is an anti-join that probes (dossier_id, …) for each email. Same rules, same errors.
CREATE OR REPLACE FUNCTION email_outbox_caused_here() RETURNS trigger
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
    WHERE n.kind = 'dossier-processed'
      AND NOT EXISTS (SELECT 1 FROM dossier_events e
                      WHERE e.dossier_id = n.dossier_id AND e.decision_id = n.decision_id
                        AND (owner OR e.occurred_at = now()))
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT n.kind, n.dossier_id INTO bad FROM new_emails n
        WHERE n.kind = 'planning-open'
          AND NOT EXISTS (SELECT 1 FROM reservation_rights r
                          WHERE r.dossier_id = n.dossier_id AND r.period_id = n.period_id
                            AND (owner OR r.opened_at = now()))
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'a % email for dossier % needs its cause (%) in the same transaction', bad.kind, bad.dossier_id,
            CASE bad.kind WHEN 'dossier-processed' THEN 'the decision carried out' ELSE 'the rights opened' END
            USING ERRCODE = 'ETK08';
    END IF;
    RETURN NULL;
END
$$;

-- One email per decision, indexed over the dossier-processed rows only: a planning-open row has
-- no decision, and its NULL took an entry of this index for nothing. Still the writer's
-- ON CONFLICT DO NOTHING (every unique index is an arbiter of a conflict without target).
CREATE UNIQUE INDEX email_outbox_one_per_decision ON email_outbox (decision_id) WHERE decision_id IS NOT NULL;
ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_decision_id_key;
