-- The audit trail tells the truth about who (issue 16). Until now an event's actor was whatever the
-- session had put in `eticket.actor`, which any role can set; an application role could INSERT
-- events itself and the chain trigger hashed them for it; a worker could validate a dossier that
-- waits for an administrator's review; and a dossier's state could become "validated" with no
-- decision behind it.
--
-- Now:
--  * every event records `login_role`, the session's authenticated role (`session_user`, which no
--    SET ROLE, SET eticket.actor or SECURITY DEFINER changes), beside the declared actor, and the
--    hash covers it;
--  * only the product's triggers write events: no application role holds INSERT on dossier_events,
--    the events are written by a SECURITY DEFINER trigger (its search_path pinned), and an INSERT
--    that does not come from a trigger is refused whoever runs it;
--  * the checks that depend on who acts run in the invoker's rights (a SECURITY DEFINER function
--    sees its definer as current_user): a non-administrator may make only the moves of the import
--    and of the worker; a move into a decided state needs a decision of the same transaction;
--    a dossier's identity never changes and its content changes only with its submission;
--  * an email is written only in the transaction of its cause (the event that carried out its
--    decision, or the rights it announces), and a decision's declared author matches its role.
--
-- The schema's owner is exempt from the rules about roles, as from row-level security: it runs the
-- migrations and can switch any trigger off. What it could do to the chains, `eticket audit anchor`
-- makes detectable.
--
-- New SQLSTATEs: ETK06 a move this role may not make, ETK07 a decided state without its decision,
-- ETK08 an email without its cause.

-- 1. Who: the session's authenticated role, in every new event and decision. Added without a
-- default first so that the events already written keep NULL (and their hashes), then defaulted.
ALTER TABLE dossier_events ADD COLUMN login_role text;
ALTER TABLE dossier_events ALTER COLUMN login_role SET DEFAULT session_user;
ALTER TABLE dossier_events ADD CONSTRAINT dossier_events_login_role CHECK (login_role IS NOT NULL) NOT VALID;
ALTER TABLE decisions ADD COLUMN login_role text;
ALTER TABLE decisions ALTER COLUMN login_role SET DEFAULT session_user;
ALTER TABLE decisions ADD CONSTRAINT decisions_login_role CHECK (login_role IS NOT NULL) NOT VALID;

-- The hash of 009 with the login role appended. quote_literal(NULL) is NULL and concat_ws skips it,
-- so an event written before this migration (login_role NULL) keeps exactly its old hash, while
-- every later one (NOT NULL) is hashed with its role.
CREATE FUNCTION dossier_event_hash(bigint, bigint, integer, dossier_state, dossier_state, text, text, bigint,
                                   timestamptz, text, text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        quote_nullable($1), quote_nullable($2), quote_nullable($3),
        quote_nullable($4::text), quote_nullable($5::text), quote_nullable($6),
        quote_nullable($7), quote_nullable($8),
        quote_nullable(to_char($9 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        quote_nullable($10), quote_literal($11)), 'UTF8')), 'hex')
$$;

-- What `eticket audit verify` recomputes, now over the login role too.
CREATE OR REPLACE FUNCTION dossier_event_digest(e dossier_events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT dossier_event_hash(e.id, e.dossier_id, e.dossier_version, e.from_state, e.to_state, e.actor,
                              e.reason, e.decision_id, e.occurred_at, e.previous_hash, e.login_role)
$$;

-- 2. Nothing but the triggers writes events.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON dossier_events FROM PUBLIC, eticket_worker, eticket_admin;

-- Depth 1 is a statement's own trigger: an INSERT typed by hand, even the owner's, arrives there;
-- the events trigger's INSERT arrives at depth 2.
CREATE FUNCTION dossier_events_from_triggers_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'dossier_events is written by the dossiers trigger only: INSERT refused'
            USING ERRCODE = 'ETK03';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_events_from_triggers_only BEFORE INSERT ON dossier_events
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_events_from_triggers_only();

-- Whether the name a session declares (eticket.actor) fits its role: a worker declares worker:…,
-- an administrator admin:… (or import, for its own structure's import), any other role import.
-- The name stays a declaration (login_role says who); this keeps a worker from signing as
-- admin:Marie Curie, or an administrator as worker:prod-host:4242. Runs as the invoker.
CREATE FUNCTION actor_fits_role(actor text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN pg_has_role(current_user, 'eticket_admin', 'USAGE') THEN actor LIKE 'admin:_%' OR actor = 'import'
        WHEN pg_has_role(current_user, 'eticket_worker', 'USAGE') THEN actor LIKE 'worker:_%'
        ELSE actor = 'import'
    END
$$;

-- 3. The checks, in the invoker's rights: current_user is the role that acts. (The whole function
-- again, as CREATE OR REPLACE needs; it no longer writes the events, see 4.)
CREATE OR REPLACE FUNCTION dossiers_check_and_record() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    actor text := nullif(current_setting('eticket.actor', true), '');
    -- The owner may switch any trigger off: the rules on roles bind the application's roles.
    owner boolean := pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE');
    bad   record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT state INTO bad FROM new_dossiers WHERE state NOT IN ('draft', 'submitted') LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'a dossier starts as draft or submitted, not %', bad.state USING ERRCODE = 'ETK02';
        END IF;
        -- A draft being created is the portal's business, not a transition.
        IF NOT EXISTS (SELECT 1 FROM new_dossiers WHERE state <> 'draft') THEN
            RETURN NULL;
        END IF;
        IF actor IS NULL THEN
            RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
        END IF;
        IF NOT owner AND NOT actor_fits_role(actor) THEN
            RAISE EXCEPTION 'role % may not declare itself as %', current_user, actor USING ERRCODE = 'ETK05',
                HINT = 'a worker declares worker:HOST:PID, an administrator admin:NAME or import, the intake import';
        END IF;
        RETURN NULL;
    END IF;

    SELECT o.external_id, o.state AS from_state, n.state AS to_state INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE n.state <> o.state
      AND NOT EXISTS (SELECT 1 FROM dossier_transitions t WHERE t.from_state = o.state AND t.to_state = n.state)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot move from % to %', bad.external_id, bad.from_state, bad.to_state
            USING ERRCODE = 'ETK02';
    END IF;
    -- Read-only after sending: only a transition may touch a dossier the family no longer owns.
    SELECT o.external_id, o.state INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE o.state NOT IN ('draft', 'returned')
      AND ROW(n.structure_id, n.account_id, n.external_id, n.version, n.locale, n.confirmed, n.terms_accepted_at,
           n.house_rules_accepted_at, n.submitted_at, n.notes, n.content, n.created_at, n.purged_at)::record
          *<>
          ROW(o.structure_id, o.account_id, o.external_id, o.version, o.locale, o.confirmed, o.terms_accepted_at,
           o.house_rules_accepted_at, o.submitted_at, o.notes, o.content, o.created_at, o.purged_at)::record
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only', bad.external_id, bad.state USING ERRCODE = 'ETK01';
    END IF;
    IF NOT owner THEN
        -- A draft or a returned dossier changes only by being submitted (the import's resubmission:
        -- content, account and the next version, audited by its submission event). Its identity
        -- (structure, external id, creation) never changes, nor its purge mark, which only the
        -- owner's purge sets; an administrator's hand-written edit would leave no event, so it is
        -- refused rather than audited.
        SELECT o.external_id, o.state INTO bad
        FROM old_dossiers o JOIN new_dossiers n USING (id)
        WHERE o.state IN ('draft', 'returned')
          AND (ROW(n.structure_id, n.external_id, n.created_at, n.purged_at)::record
                   *<> ROW(o.structure_id, o.external_id, o.created_at, o.purged_at)::record
               OR CASE WHEN n.state = 'submitted'
                       THEN n.version <> o.version + CASE o.state WHEN 'returned' THEN 1 ELSE 0 END
                       ELSE ROW(n.account_id, n.version, n.locale, n.confirmed, n.terms_accepted_at,
                                n.house_rules_accepted_at, n.submitted_at, n.notes, n.content)::record
                            *<> ROW(o.account_id, o.version, o.locale, o.confirmed, o.terms_accepted_at,
                                    o.house_rules_accepted_at, o.submitted_at, o.notes, o.content)::record
                  END)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'dossier % is %: only its submission may change it, and never its identity',
                bad.external_id, bad.state USING ERRCODE = 'ETK01';
        END IF;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM old_dossiers o JOIN new_dossiers n USING (id) WHERE n.state <> o.state) THEN
        RETURN NULL;
    END IF;
    IF actor IS NULL THEN
        RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
    END IF;
    IF owner THEN
        RETURN NULL;
    END IF;
    IF NOT actor_fits_role(actor) THEN
        RAISE EXCEPTION 'role % may not declare itself as %', current_user, actor USING ERRCODE = 'ETK05',
            HINT = 'a worker declares worker:HOST:PID, an administrator admin:NAME or import, the intake import';
    END IF;
    -- The import submits, the worker judges a submission (validating it only where the structure
    -- reviews automatically) and opens rights; every other move is an administrator's decision.
    IF NOT pg_has_role(current_user, 'eticket_admin', 'USAGE') THEN
        SELECT o.external_id, o.state AS from_state, n.state AS to_state INTO bad
        FROM old_dossiers o JOIN new_dossiers n USING (id) JOIN structures s ON s.id = n.structure_id
        WHERE n.state <> o.state
          AND NOT ((n.state = 'submitted' AND o.state IN ('draft', 'returned'))
                   OR (o.state = 'submitted' AND n.state IN ('awaiting_review', 'returned'))
                   OR (o.state = 'submitted' AND n.state = 'validated' AND s.review = 'automatic')
                   OR (o.state = 'validated' AND n.state = 'planning_open'))
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'dossier %: moving it from % to % is an administrator''s decision, not role %''s',
                bad.external_id, bad.from_state, bad.to_state, current_user USING ERRCODE = 'ETK06';
        END IF;
    END IF;
    -- A decided state is the outcome of a decision recorded by this transaction for this version:
    -- decided_at is the transaction's start (no application role may write it). One index probe
    -- per moved dossier, as a subplan, not a join the planner could turn into a scan of decisions.
    -- (Only run when a dossier is decided: the intake, which submits, may not read decisions.)
    IF NOT EXISTS (SELECT 1 FROM new_dossiers WHERE state IN ('validated', 'awaiting_review', 'returned', 'rejected')) THEN
        RETURN NULL;
    END IF;
    SELECT n.external_id, n.state INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE n.state <> o.state AND n.state IN ('validated', 'awaiting_review', 'returned', 'rejected')
      AND (SELECT d.id FROM decisions d
           WHERE d.dossier_id = n.id AND d.dossier_version = n.version AND d.decided_at = now()
             AND d.outcome::text = n.state::text
           LIMIT 1) IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become % without a decision recorded in the same transaction',
            bad.external_id, bad.state USING ERRCODE = 'ETK07';
    END IF;
    RETURN NULL;
END
$$;

-- 4. The events, written in the definer's rights: the only INSERT into dossier_events there is.
-- The hash and the link are computed here, never taken from a writer. (The triggers' names sort
-- after the checks', so that a refused statement is refused by its check's message.)
CREATE FUNCTION dossiers_record_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET enable_nestloop = off SET jit = off AS $$
DECLARE
    actor text := nullif(current_setting('eticket.actor', true), '');
    why   text := nullif(current_setting('eticket.reason', true), '');
    login text := session_user;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH event AS MATERIALIZED (
            SELECT nextval('dossier_events_id_seq'::regclass) AS id, n.id AS dossier_id, n.version, n.state,
                   now() AS occurred_at
            FROM new_dossiers n WHERE n.state <> 'draft' ORDER BY n.id
        )
        INSERT INTO dossier_events (id, dossier_id, dossier_version, from_state, to_state, actor, reason,
                                    occurred_at, previous_hash, hash, login_role)
        OVERRIDING SYSTEM VALUE
        SELECT e.id, e.dossier_id, e.version, NULL, e.state, actor, why, e.occurred_at, NULL,
               dossier_event_hash(e.id, e.dossier_id, e.version, NULL, e.state, actor, why, NULL, e.occurred_at,
                                  NULL, login),
               login
        FROM event e;
        RETURN NULL;
    END IF;
    -- One event per changed dossier, chained: the id is drawn first because the hash covers it. A
    -- statement changes a dossier at most once and holds its row lock, so the last hash read here
    -- is still the last when the event is written.
    WITH event AS MATERIALIZED (
        SELECT nextval('dossier_events_id_seq'::regclass) AS id, n.id AS dossier_id, n.version,
               o.state AS from_state, n.state AS to_state, coalesce(why, x.explanation) AS reason,
               x.id AS decision_id, now() AS occurred_at,
               (SELECT p.hash FROM dossier_events p WHERE p.dossier_id = n.id ORDER BY p.id DESC LIMIT 1)
                   AS previous_hash
        FROM old_dossiers o JOIN new_dossiers n USING (id)
        LEFT JOIN LATERAL (
            SELECT d.id, coalesce(d.reason, (SELECT string_agg(f->>'code', ', ') FROM jsonb_array_elements(d.findings) f)) AS explanation
            FROM decisions d
            WHERE d.dossier_id = n.id AND d.dossier_version = n.version AND d.decided_at = now()
              AND d.outcome::text = n.state::text
            ORDER BY d.id DESC LIMIT 1
        ) x ON true
        WHERE n.state <> o.state
        ORDER BY n.id
    )
    INSERT INTO dossier_events (id, dossier_id, dossier_version, from_state, to_state, actor, reason, decision_id,
                                occurred_at, previous_hash, hash, login_role)
    OVERRIDING SYSTEM VALUE
    SELECT e.id, e.dossier_id, e.version, e.from_state, e.to_state, actor, e.reason, e.decision_id,
           e.occurred_at, e.previous_hash,
           dossier_event_hash(e.id, e.dossier_id, e.version, e.from_state, e.to_state, actor, e.reason,
                              e.decision_id, e.occurred_at, e.previous_hash, login),
           login
    FROM event e;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION dossiers_record_events() FROM PUBLIC;
CREATE TRIGGER dossiers_inserted_events AFTER INSERT ON dossiers
    REFERENCING NEW TABLE AS new_dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossiers_record_events();
CREATE TRIGGER dossiers_updated_events AFTER UPDATE ON dossiers
    REFERENCING OLD TABLE AS old_dossiers NEW TABLE AS new_dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossiers_record_events();

-- 5. Times that prove "this transaction" and names that say who are not the writer's to choose:
-- decided_at and opened_at take now(), login_role takes session_user (column privileges).
REVOKE INSERT ON decisions, reservation_rights FROM eticket_worker, eticket_admin;
REVOKE UPDATE ON reservation_rights FROM eticket_admin;
GRANT INSERT (dossier_id, dossier_version, outcome, findings, reason, rules_version, content_sha256, decided_by)
    ON decisions TO eticket_worker, eticket_admin;
GRANT INSERT (child_id, dossier_id, structure_id, service_id, period_id, opened_by, notes)
    ON reservation_rights TO eticket_worker, eticket_admin;
GRANT UPDATE (notes) ON reservation_rights TO eticket_admin;

-- A decision's declared author matches its role: a worker cannot sign as an administrator, nor
-- an administrator as a worker (whose verdicts are unique per version). Restrictive policies,
-- ANDed with the others.
CREATE POLICY declared_as_worker ON decisions AS RESTRICTIVE FOR INSERT TO eticket_worker
    WITH CHECK (decided_by LIKE 'worker:%');
CREATE POLICY declared_as_admin ON decisions AS RESTRICTIVE FOR INSERT TO eticket_admin
    WITH CHECK (decided_by LIKE 'admin:%');

-- 6. An email is written by the transaction that caused it: a dossier-processed email by the one
-- whose event carried out its decision on that dossier, a planning-open email by the one that
-- opened rights of that dossier for that period. One index probe per email.
CREATE FUNCTION email_outbox_caused_here() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    bad record;
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    SELECT n.kind, n.dossier_id INTO bad FROM new_emails n
    WHERE CASE n.kind
          WHEN 'dossier-processed' THEN
              (SELECT e.id FROM dossier_events e
               WHERE e.dossier_id = n.dossier_id AND e.decision_id = n.decision_id AND e.occurred_at = now()
               LIMIT 1) IS NULL
          ELSE
              (SELECT r.id FROM reservation_rights r
               WHERE r.dossier_id = n.dossier_id AND r.period_id = n.period_id AND r.opened_at = now()
               LIMIT 1) IS NULL
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

-- 7. A dossier's parts are its content too: for the application's roles they change while it is
-- a draft, or in the transaction that submits it (the import's resubmission submits first, then
-- replaces the parts); a returned dossier's parts no longer change by hand. The owner keeps 012's
-- rule (returned dossiers editable).
CREATE FUNCTION dossiers_with_read_only_parts(ids bigint[], returned_writable boolean)
RETURNS TABLE (external_id text, state dossier_state)
LANGUAGE sql STABLE AS $$
    SELECT d.external_id, d.state FROM dossiers d
    WHERE d.id = ANY (ids) AND d.state <> 'draft' AND NOT (returned_writable AND d.state = 'returned')
      AND NOT (d.state = 'submitted' AND d.id IN (
              SELECT e.dossier_id FROM dossier_events e
              WHERE e.dossier_id = ANY (ids) AND e.to_state = 'submitted' AND e.xmin = pg_current_xact_id()::xid))
$$;

CREATE OR REPLACE FUNCTION dossier_parts_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner boolean := pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE');
    bad   record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT * INTO bad FROM dossiers_with_read_only_parts(ARRAY(SELECT dossier_id FROM old_parts), owner) LIMIT 1;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT * INTO bad FROM dossiers_with_read_only_parts(ARRAY(SELECT dossier_id FROM new_parts), owner) LIMIT 1;
    ELSE
        IF EXISTS (SELECT 1 FROM old_parts o JOIN new_parts n USING (id) WHERE n.dossier_id <> o.dossier_id) THEN
            RAISE EXCEPTION '% cannot move to another dossier', TG_TABLE_NAME USING ERRCODE = 'ETK01';
        END IF;
        SELECT * INTO bad FROM dossiers_with_read_only_parts(ARRAY(SELECT dossier_id FROM new_parts), owner) LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % is % and read-only: % cannot change', bad.external_id, bad.state, TG_TABLE_NAME
            USING ERRCODE = 'ETK01';
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION dossiers_with_read_only_parts(bigint[]);

-- 8. The other records that name who did something (rights opened, days booked, purges) carry the
-- login role too, and their times are the database's.
ALTER TABLE reservation_rights ADD COLUMN login_role text;
ALTER TABLE reservation_rights ALTER COLUMN login_role SET DEFAULT session_user;
ALTER TABLE reservations ADD COLUMN login_role text;
ALTER TABLE reservations ALTER COLUMN login_role SET DEFAULT session_user;
ALTER TABLE purges ADD COLUMN login_role text;
ALTER TABLE purges ALTER COLUMN login_role SET DEFAULT session_user;
REVOKE INSERT, UPDATE ON reservations FROM eticket_admin;
GRANT INSERT (child_id, service_id, period_id, day, created_by, notes) ON reservations TO eticket_admin;
GRANT UPDATE (notes) ON reservations TO eticket_admin;

-- 9. A decision fits its dossier when written: for its current version, and an outcome the dossier
-- may move to from its current state (the state change follows in the same transaction). No
-- stray verdict (a worker's "rejected" on a submitted dossier, a decision on a dossier long
-- decided) can be left for `dossier show` to display. One index probe per decision; the owner is
-- exempt, as above.
CREATE FUNCTION decisions_fit_their_dossiers() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    bad record;
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    SELECT n.dossier_id, n.dossier_version, n.outcome INTO bad FROM new_decisions n
    WHERE (SELECT d.id FROM dossiers d
           WHERE d.id = n.dossier_id AND d.version = n.dossier_version
             AND EXISTS (SELECT 1 FROM dossier_transitions t
                         WHERE t.from_state = d.state AND t.to_state::text = n.outcome::text)) IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a decision % on dossier % version % does not fit the dossier''s current state or version',
            bad.outcome, bad.dossier_id, bad.dossier_version USING ERRCODE = 'ETK07';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER decisions_fit_their_dossiers AFTER INSERT ON decisions
    REFERENCING NEW TABLE AS new_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_fit_their_dossiers();
