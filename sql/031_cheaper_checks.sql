-- What the write paths paid for checks, without changing what is checked (issue 17).
--
-- 1. Three CHECKs wrote a length as a bounded repetition (`{64}`, `{1,64}`), which PostgreSQL's
--    regular-expression engine expands into one state per repetition: 7 µs for a SHA-256 in hex,
--    2.7 µs for an external id, on every decision, document and imported dossier (measured with
--    200,000 values). The same rule as a length and an unbounded class costs 3 µs and 0.3 µs.
--    The constraints keep their names and SQLSTATE (23514).
ALTER TABLE decisions DROP CONSTRAINT decisions_content_sha256_check,
    ADD CONSTRAINT decisions_content_sha256_check
        CHECK (octet_length(content_sha256) = 64 AND content_sha256 ~ '^[0-9a-f]+$');
ALTER TABLE documents DROP CONSTRAINT documents_sha256_check,
    ADD CONSTRAINT documents_sha256_check CHECK (octet_length(sha256) = 64 AND sha256 ~ '^[0-9a-f]+$');
ALTER TABLE dossier_records DROP CONSTRAINT dossier_records_external_id_check,
    ADD CONSTRAINT dossier_records_external_id_check
        CHECK (octet_length(external_id) BETWEEN 1 AND 64 AND external_id ~ '^[A-Za-z0-9._-]+$');

-- 2. Whether the caller owns a guarded table: every statement guard asks it. As a SQL function
--    with a pinned search_path it is planned again in each transaction that calls it (about
--    0.1 ms, four times a worker's batch); PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION acts_as_owner(guarded regclass) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RETURN pg_has_role(current_user, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = guarded), 'USAGE');
END
$$;

-- 3. `decisions_decided_at` answered one reader, the queue report's "decided in the last hour".
--    But the guards that look for "this dossier's decision of this transaction" (`dossier_id = …
--    AND decided_at = now()`) were planned as a BitmapAnd of it and `decisions_dossier`: each
--    dossier of a batch read the whole batch's entries of `decided_at`, a batch's square. A BRIN
--    index answers the report (decisions are appended in time order) for a few pages, costs the
--    worker's insert nothing; the guards plan with `decisions_dossier` (checked with auto_explain
--    up to batches of 1,000). `autosummarize` summarises each filled range at once, so that the
--    report does not read every range added since the last VACUUM.
DROP INDEX decisions_decided_at;
CREATE INDEX decisions_decided_at ON decisions USING brin (decided_at) WITH (autosummarize = on);

-- 4. Statistics of columns no query filters, joins or sorts on: a dossier's content, a
--    decision's findings, and the random strings (hashes, Message-IDs), whose histograms
--    autovacuum's ANALYZE sorted for nothing while the workers ran. Measured at 20,000 dossiers:
--    ANALYZE of decisions 72 → 31 ms, of dossier_events 83 → 48 ms, of documents 70 → 50 ms. A
--    unique index still tells the planner that a Message-ID names one row.
ALTER TABLE dossier_records ALTER COLUMN content SET STATISTICS 0;
ALTER TABLE decisions ALTER COLUMN findings SET STATISTICS 0, ALTER COLUMN content_sha256 SET STATISTICS 0;
ALTER TABLE dossier_events ALTER COLUMN hash SET STATISTICS 0, ALTER COLUMN previous_hash SET STATISTICS 0;
ALTER TABLE documents ALTER COLUMN sha256 SET STATISTICS 0;
ALTER TABLE email_outbox ALTER COLUMN message_id SET STATISTICS 0, ALTER COLUMN particulars SET STATISTICS 0;

-- 5. Three statement guards checked each batch of emails, two of them joining it to the
--    dossiers: `email_outbox_caused_here` (the dossier is of the email's structure, 23503; the
--    cause is in this transaction, ETK08), `email_outbox_template_set_stored` (029: the template
--    set is stored, 23503) and `email_outbox_to_the_family` (027: to the dossier's account, from
--    the structure's sender, ETK10), firing in that order (by name). One guard now does the
--    three, the dossier and the address with one join, and raises in the same order. The causes
--    are still checked by one anti-join per kind (a CASE of the two is planned as hashed scans of
--    all events and rights, 029).
CREATE OR REPLACE FUNCTION email_outbox_caused_here() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner        boolean := acts_as_owner(TG_RELID);
    bad          record;
    misaddressed record;
BEGIN
    SELECT n.id, n.kind, n.dossier_id,
           d.id IS NULL OR d.structure_id <> n.structure_id AS foreign_dossier,
           n.recipient IS DISTINCT FROM a.email AS wrong_recipient
    INTO misaddressed
    FROM new_emails n
    LEFT JOIN dossier_records d ON d.id = n.dossier_id
    LEFT JOIN accounts a ON a.id = d.account_id
    LEFT JOIN structures s ON s.id = n.structure_id
    WHERE d.id IS NULL OR d.structure_id <> n.structure_id
       OR n.recipient IS DISTINCT FROM a.email OR n.sender IS DISTINCT FROM s.sender_email
    ORDER BY foreign_dossier DESC
    LIMIT 1;
    IF FOUND AND misaddressed.foreign_dossier THEN
        RAISE EXCEPTION 'a % email names dossier % of another structure, or none', misaddressed.kind,
            misaddressed.dossier_id USING ERRCODE = '23503';
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
    SELECT n.id, n.dossier_id INTO bad FROM new_emails n
    WHERE n.template_set IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM email_template_sets t WHERE t.sha256 = n.template_set)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'email % of dossier % names a template set that is not stored', bad.id, bad.dossier_id
            USING ERRCODE = '23503', HINT = 'store the set in email_template_sets first';
    END IF;
    IF misaddressed.id IS NOT NULL THEN
        -- Never quotes the address: error texts reach logs, which carry ids only.
        RAISE EXCEPTION 'email % of dossier % is %', misaddressed.id, misaddressed.dossier_id,
            CASE WHEN misaddressed.wrong_recipient THEN 'addressed to someone other than the dossier''s account'
                 ELSE 'sent from another address than its structure''s sender_email' END
            USING ERRCODE = 'ETK10',
                  HINT = 'an email''s recipient is its dossier''s account address and its sender its structure''s sender_email';
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER email_outbox_to_the_family ON email_outbox;
DROP FUNCTION email_outbox_to_the_family();
DROP TRIGGER email_outbox_template_set_stored ON email_outbox;
DROP FUNCTION email_outbox_template_set_stored();
