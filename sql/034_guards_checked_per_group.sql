-- Three guards of the worker's write path did, for each row of a statement, lookups that are the
-- same for every row of a group: the rights guard read a dossier's status and record once per
-- child, a period and a set of services once per row; the emails guard read a dossier and its
-- account once per email, and the template set, the same for a whole batch, once per email; the
-- event writer formatted the same time stamp, actor and login once per event. Each now does them
-- once per group. What they check and the errors they raise are unchanged, as
-- `ReservationRightsGuardsTests`, `SchemaConstraintsTests`, `OutboxGuardsTests`, `AuditTrailTests`,
-- `GuardsPerGroupTests` (one bad row among good ones of its group) and
-- `GuardsPerGroupEquivalenceTests` (the same statements against the replaced definitions) show.
-- And the batch's check that the structures did not change (033) is now a plain expression of
-- the worker's statements, which call a function only to raise: two PL/pgSQL calls a batch fewer.

-- 1. Reservation rights fit their dossiers, as before: each child is of its dossier (per row);
--    each dossier is validated or open and of the rights' structure (per dossier); each period
--    and each set of services is of the structure (per distinct pair). A statement with several
--    faults is refused for one of them, checked in that order (before, for whichever row came
--    first).
CREATE OR REPLACE FUNCTION child_period_rights_fit_their_dossiers() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT r.child_id, r.dossier_id INTO bad FROM new_rights r
    WHERE NOT EXISTS (SELECT 1 FROM children c WHERE c.id = r.child_id AND c.dossier_id = r.dossier_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'child % does not belong to dossier %', bad.child_id, bad.dossier_id USING ERRCODE = 'ETK04';
    END IF;
    SELECT g.dossier_id, s.state, d.structure_id AS dossier_structure INTO bad
    FROM (SELECT DISTINCT dossier_id, structure_id FROM new_rights) g
    LEFT JOIN dossier_status s ON s.dossier_id = g.dossier_id
    LEFT JOIN dossier_records d ON d.id = g.dossier_id
    WHERE s.state IS NULL OR s.state NOT IN ('validated', 'planning_open') OR d.structure_id <> g.structure_id
    ORDER BY s.state NOT IN ('validated', 'planning_open') DESC NULLS LAST
    LIMIT 1;
    IF FOUND AND bad.state NOT IN ('validated', 'planning_open') THEN
        RAISE EXCEPTION 'reservation rights need a validated dossier; this one is %', bad.state USING ERRCODE = 'ETK04';
    END IF;
    IF NOT FOUND THEN
        SELECT r.dossier_id, d.structure_id AS dossier_structure INTO bad
        FROM new_rights r LEFT JOIN dossier_records d ON d.id = r.dossier_id
        WHERE (r.structure_id, r.period_id) IN (
                  SELECT g.structure_id, g.period_id FROM (SELECT DISTINCT structure_id, period_id FROM new_rights) g
                  WHERE NOT EXISTS (SELECT 1 FROM periods p WHERE p.id = g.period_id AND p.structure_id = g.structure_id))
           -- Fewer of the structure's services than elements: another structure's, unknown, NULL or twice.
           OR (r.structure_id, r.service_ids) IN (
                  SELECT g.structure_id, g.service_ids FROM (SELECT DISTINCT structure_id, service_ids FROM new_rights) g
                  WHERE (SELECT count(*) FROM services v WHERE v.id = ANY (g.service_ids) AND v.structure_id = g.structure_id)
                        <> cardinality(g.service_ids))
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'reservation rights of dossier % name another structure, or a service or period not of structure % (or a service twice)',
            bad.dossier_id, bad.dossier_structure USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END
$$;

-- 2. The family's emails are caused here and addressed to the family. Checked, in this order, as
--    before (031): the dossier is of the email's structure (23503), the cause is in this
--    transaction (ETK08), the template set is stored (23503), the address is the family's and the
--    sender the structure's (ETK10). The dossier, its account and its structure are read once per
--    dossier, and each template set once.
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
    FROM (SELECT DISTINCT ON (dossier_id, structure_id, recipient, sender)
                 id, kind, dossier_id, structure_id, recipient, sender
          FROM new_emails) n
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
          AND NOT EXISTS (SELECT 1 FROM child_period_rights r
                          WHERE r.dossier_id = n.dossier_id AND r.period_id = n.period_id
                            AND (owner OR r.opened_at = now()))
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'a % email for dossier % needs its cause (%) in the same transaction', bad.kind, bad.dossier_id,
            CASE bad.kind WHEN 'dossier-processed' THEN 'the decision carried out' ELSE 'the rights opened' END
            USING ERRCODE = 'ETK08';
    END IF;
    SELECT n.id, n.dossier_id INTO bad
    FROM (SELECT DISTINCT template_set FROM new_emails WHERE template_set IS NOT NULL) t
    JOIN LATERAL (SELECT e.id, e.dossier_id FROM new_emails e WHERE e.template_set = t.template_set LIMIT 1) n ON true
    WHERE NOT EXISTS (SELECT 1 FROM email_template_sets s WHERE s.sha256 = t.template_set)
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

-- 3. The event writer (022) hashes each event's fields as text. The actor, the login and the time
--    stamp (every event of a statement occurs at `now()`) are the same for a whole statement:
--    they are quoted and formatted once. The hashed text is the same, byte for byte.
CREATE OR REPLACE FUNCTION dossier_status_recorded() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor        text := declared_actor();
    why          text := nullif(current_setting('eticket.reason', true), '');
    login        text := session_user;
    quoted_actor text := quote_nullable(actor);
    quoted_login text := quote_literal(login);
    quoted_stamp text := quote_nullable(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'));
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH event AS MATERIALIZED (
            SELECT nextval('dossier_events_id_seq'::regclass) AS id, n.dossier_id, n.version, n.state
            FROM new_status n WHERE n.state <> 'draft' ORDER BY n.dossier_id
        )
        INSERT INTO dossier_events (id, dossier_id, dossier_version, from_state, to_state, actor, reason,
                                    occurred_at, previous_hash, hash, login_role)
        OVERRIDING SYSTEM VALUE
        SELECT e.id, e.dossier_id, e.version, NULL, e.state, actor, why, now(), NULL,
               encode(sha256(convert_to(concat_ws('|',
                   quote_nullable(e.id), quote_nullable(e.dossier_id), quote_nullable(e.version),
                   quote_nullable(NULL::text), quote_nullable(e.state::text), quoted_actor,
                   quote_nullable(why), quote_nullable(NULL::bigint), quoted_stamp,
                   quote_nullable(NULL::text), quoted_login), 'UTF8')), 'hex'),
               login
        FROM event e;
        RETURN NULL;
    END IF;
    WITH moved AS (
        SELECT dossier_id, max(state) FILTER (WHERE was_old) AS from_state, max(state) FILTER (WHERE NOT was_old) AS to_state,
               max(version) FILTER (WHERE NOT was_old) AS version
        FROM (SELECT true AS was_old, dossier_id, state, version FROM old_status
              UNION ALL SELECT false, dossier_id, state, version FROM new_status) AS sides
        GROUP BY dossier_id
    ), event AS MATERIALIZED (
        SELECT nextval('dossier_events_id_seq'::regclass) AS id, m.dossier_id, m.version, m.from_state, m.to_state,
               CASE WHEN m.from_state = 'submitted' AND m.to_state = 'planning_open' THEN 'validated'::dossier_state END AS via,
               coalesce(why, x.explanation) AS reason, x.id AS decision_id,
               (SELECT p.hash FROM dossier_events p WHERE p.dossier_id = m.dossier_id ORDER BY p.id DESC LIMIT 1)
                   AS previous_hash
        FROM moved m
        LEFT JOIN LATERAL (
            SELECT d.id, coalesce(d.reason, (SELECT string_agg(f->>'code', ', ') FROM jsonb_array_elements(d.findings) f))
                       AS explanation
            FROM decisions d
            WHERE d.dossier_id = m.dossier_id AND d.dossier_version = m.version AND d.decided_at = now()
              AND d.outcome::text
                  = (CASE WHEN m.from_state = 'submitted' AND m.to_state = 'planning_open' THEN 'validated' ELSE m.to_state END)::text
            ORDER BY d.id DESC LIMIT 1
        ) x ON true
        WHERE m.to_state <> m.from_state
        ORDER BY m.dossier_id
    )
    INSERT INTO dossier_events (id, dossier_id, dossier_version, from_state, to_state, via, actor, reason, decision_id,
                                occurred_at, previous_hash, hash, login_role)
    OVERRIDING SYSTEM VALUE
    SELECT e.id, e.dossier_id, e.version, e.from_state, e.to_state, e.via, actor, e.reason, e.decision_id,
           now(), e.previous_hash,
           encode(sha256(convert_to(concat_ws('|',
               quote_nullable(e.id), quote_nullable(e.dossier_id), quote_nullable(e.version),
               quote_nullable(e.from_state::text), quote_nullable(e.to_state::text), quoted_actor,
               quote_nullable(e.reason), quote_nullable(e.decision_id), quoted_stamp,
               quote_nullable(e.previous_hash), quoted_login, quote_literal(e.via::text)), 'UTF8')), 'hex'),
           login
    FROM event e;
    RETURN NULL;
END
$$;

-- 4. The structures' print (033) is now computed by the worker's statements themselves
--    (`DossierStore.catalogPrint`), which call this only when it changed. 033's two functions
--    stay for one release: a worker of the previous release, on another host, still calls them
--    until it is upgraded.

-- Raises the serialization failure (40001) of a batch whose structures changed since it read them,
-- so that the caller writes it again, with the structures as they are now.
CREATE FUNCTION structure_catalogs_changed() RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'a structure''s services, periods, time zone or rights opening changed during the batch'
        USING ERRCODE = '40001', HINT = 'the batch is written again, with the structures as they are now';
END
$$;
