-- The state machine, enforced on dossier_status.
--
-- One statement-level trigger checks a statement's moves and another writes their events: one call
-- per statement, whatever its size (a worker's batch of a hundred moves costs one check, not a
-- hundred). The checker pairs the old and new rows once, by dossier, in a linear aggregate (the
-- planner takes a transition table for one row and would pair them by a nested loop), then hands
-- them to small functions with one rule each; a rule's plan is a probe by key driven by the
-- moves. A failed rule raises, which undoes the whole statement. The checks run in the caller's
-- rights (current_user is the role that acts); the events are written in the definer's, by the
-- only INSERT into dossier_events there is.

-- A dossier's state and version before and after a statement.
CREATE TYPE dossier_move AS (
    dossier_id   bigint,
    from_state   dossier_state,
    to_state     dossier_state,
    from_version integer,
    to_version   integer
);

-- The session's declared actor (SET eticket.actor), or NULL.
CREATE FUNCTION declared_actor() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT nullif(current_setting('eticket.actor', true), '')
$$;

-- Whether the name a session declares fits its role: a worker declares worker:…, an administrator
-- admin:… (or import), the intake import. By role, so that a login holding two jobs may declare
-- either. The name stays a declaration (login_role says who); this keeps a worker from signing as
-- admin:Marie Curie. Runs as the invoker.
CREATE FUNCTION actor_fits_role(actor text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT (pg_has_role(current_user, 'eticket_admin', 'USAGE') AND (actor LIKE 'admin:_%' OR actor = 'import'))
        OR (pg_has_role(current_user, 'eticket_worker', 'USAGE') AND actor LIKE 'worker:_%')
        OR (pg_has_role(current_user, 'eticket_intake', 'USAGE') AND actor = 'import')
$$;

-- Rule: a change of state needs a declared actor whose name fits the caller's role (ETK05).
CREATE FUNCTION dossier_changes_declare_an_actor(owner boolean) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor text := declared_actor();
BEGIN
    IF actor IS NULL THEN
        RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
    END IF;
    IF NOT owner AND NOT actor_fits_role(actor) THEN
        RAISE EXCEPTION 'role % may not declare itself as %', current_user, actor USING ERRCODE = 'ETK05',
            HINT = 'a worker declares worker:HOST:PID, an administrator admin:NAME or import, the intake import';
    END IF;
END
$$;

-- Rule: every move is a transition of the table (ETK02). One probe of its key per move.
CREATE FUNCTION dossier_moves_are_transitions(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
    WHERE m.to_state <> m.from_state
      AND NOT EXISTS (SELECT 1 FROM dossier_transitions t WHERE t.from_state = m.from_state AND t.to_state = m.to_state)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot move from % to %', dossier_external_id(bad.dossier_id), bad.from_state,
            bad.to_state USING ERRCODE = 'ETK02';
    END IF;
END
$$;

-- Rule: a dossier's version changes only with its submission (ETK01). Once sent, never; for the
-- application's roles, a draft or a returned dossier changes version only by being submitted
-- (the import's resubmission: the next version).
CREATE FUNCTION dossier_versions_follow_submissions(moves dossier_move[], owner boolean) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.from_state, m.from_state IN ('draft', 'returned') AS editable INTO bad FROM unnest(moves) m
    WHERE CASE
          WHEN m.from_state NOT IN ('draft', 'returned') THEN m.to_version <> m.from_version
          WHEN owner THEN false
          WHEN m.to_state = 'submitted' THEN m.to_version <> m.from_version + (m.from_state = 'returned')::integer
          ELSE m.to_version <> m.from_version
          END
    LIMIT 1;
    IF FOUND AND NOT bad.editable THEN
        RAISE EXCEPTION 'dossier % is % and read-only', dossier_external_id(bad.dossier_id), bad.from_state
            USING ERRCODE = 'ETK01';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'dossier % is %: only its submission may change it, and never its identity',
            dossier_external_id(bad.dossier_id), bad.from_state USING ERRCODE = 'ETK01';
    END IF;
END
$$;

-- Rule: the import submits, the worker judges a submission (validating it only where the
-- structure reviews automatically) and opens planning; every other move is an administrator's
-- decision (ETK06). For roles that are not administrators.
CREATE FUNCTION dossier_moves_fit_the_role(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
    WHERE m.to_state <> m.from_state
      AND NOT ((m.to_state = 'submitted' AND m.from_state IN ('draft', 'returned'))
               OR (m.from_state = 'submitted' AND m.to_state IN ('awaiting_review', 'returned'))
               OR (m.from_state = 'validated' AND m.to_state = 'planning_open')
               OR (m.from_state = 'submitted' AND m.to_state = 'validated'
                   AND (SELECT s.review FROM dossier_records d JOIN structures s ON s.id = d.structure_id
                        WHERE d.id = m.dossier_id) = 'automatic'))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier %: moving it from % to % is an administrator''s decision, not role %''s',
            dossier_external_id(bad.dossier_id), bad.from_state, bad.to_state, current_user USING ERRCODE = 'ETK06';
    END IF;
END
$$;

-- Rule: a decided state is the outcome of a decision recorded by this transaction for this
-- version (ETK07): decided_at is the transaction's start, which no application role may write.
-- One probe of decisions (dossier_id, id) per decided move.
CREATE FUNCTION dossier_decided_states_have_decisions(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.to_state INTO bad FROM unnest(moves) m
    WHERE m.to_state <> m.from_state AND m.to_state IN ('validated', 'awaiting_review', 'returned', 'rejected')
      AND NOT EXISTS (SELECT 1 FROM decisions d
                      WHERE d.dossier_id = m.dossier_id AND d.dossier_version = m.to_version
                        AND d.decided_at = now() AND d.outcome::text = m.to_state::text)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become % without a decision recorded in the same transaction',
            dossier_external_id(bad.dossier_id), bad.to_state USING ERRCODE = 'ETK07';
    END IF;
END
$$;

-- Rule: a dossier's planning opens by the worker's or an administrator's hand (ETK06), in the
-- transaction that opened rights for it (ETK07): opened_at is the transaction's start.
CREATE FUNCTION dossier_planning_opens_with_rights(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    IF NOT (pg_has_role(current_user, 'eticket_worker', 'USAGE') OR pg_has_role(current_user, 'eticket_admin', 'USAGE')) THEN
        SELECT m.dossier_id INTO bad FROM unnest(moves) m
        WHERE m.to_state = 'planning_open' AND m.from_state <> 'planning_open' LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'dossier %: opening its planning is the worker''s or an administrator''s move, not role %''s',
                dossier_external_id(bad.dossier_id), current_user USING ERRCODE = 'ETK06';
        END IF;
        RETURN;
    END IF;
    SELECT m.dossier_id INTO bad FROM unnest(moves) m
    WHERE m.to_state = 'planning_open' AND m.from_state <> 'planning_open'
      AND NOT EXISTS (SELECT 1 FROM reservation_rights r WHERE r.dossier_id = m.dossier_id AND r.opened_at = now())
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become planning_open without rights opened in the same transaction',
            dossier_external_id(bad.dossier_id) USING ERRCODE = 'ETK07';
    END IF;
END
$$;

-- For the rules' messages: the dossier as the family and the administrators name it.
CREATE FUNCTION dossier_external_id(dossier bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce((SELECT external_id FROM dossier_records WHERE id = dossier), dossier::text)
$$;

-- The rules, in the order their messages should win: no transition at all, a version that may not
-- change, who declares the move, whether the role may make it, the decision or the rights behind it.
CREATE FUNCTION dossier_status_checked() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner boolean := acts_as_owner(TG_RELID);
    moves dossier_move[];
BEGIN
    moves := ARRAY(
        SELECT ROW(dossier_id, max(state) FILTER (WHERE was_old), max(state) FILTER (WHERE NOT was_old),
                   max(version) FILTER (WHERE was_old), max(version) FILTER (WHERE NOT was_old))::dossier_move
        FROM (SELECT true AS was_old, dossier_id, state, version FROM old_status
              UNION ALL SELECT false, dossier_id, state, version FROM new_status) AS sides
        GROUP BY dossier_id);
    PERFORM dossier_moves_are_transitions(moves);
    PERFORM dossier_versions_follow_submissions(moves, owner);
    IF NOT EXISTS (SELECT 1 FROM unnest(moves) m WHERE m.to_state <> m.from_state) THEN
        RETURN NULL;
    END IF;
    PERFORM dossier_changes_declare_an_actor(owner);
    IF owner THEN
        RETURN NULL;
    END IF;
    IF NOT pg_has_role(current_user, 'eticket_admin', 'USAGE') THEN
        PERFORM dossier_moves_fit_the_role(moves);
    END IF;
    -- Only when a dossier is decided: the intake, which submits, may not read decisions.
    IF EXISTS (SELECT 1 FROM unnest(moves) m WHERE m.to_state IN ('validated', 'awaiting_review', 'returned', 'rejected')) THEN
        PERFORM dossier_decided_states_have_decisions(moves);
    END IF;
    PERFORM dossier_planning_opens_with_rights(moves);
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_status_checked AFTER UPDATE ON dossier_status
    REFERENCING OLD TABLE AS old_status NEW TABLE AS new_status
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_status_checked();

-- A new dossier starts as a draft or submitted (ETK02), with its record written first and, unless
-- a draft, sent (its submission time set); a submitted one needs its actor. One probe of
-- dossier_records' key per dossier: the status's referential integrity.
CREATE FUNCTION dossier_status_created() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.state INTO bad FROM new_status n WHERE n.state NOT IN ('draft', 'submitted') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a dossier starts as draft or submitted, not %', bad.state USING ERRCODE = 'ETK02';
    END IF;
    SELECT n.dossier_id, r.id IS NULL AS missing INTO bad FROM new_status n
    LEFT JOIN dossier_records r ON r.id = n.dossier_id
    WHERE r.id IS NULL OR (n.state <> 'draft' AND r.submitted_at IS NULL)
    LIMIT 1;
    IF FOUND AND bad.missing THEN
        RAISE EXCEPTION 'the status of dossier % has no dossier record', bad.dossier_id USING ERRCODE = '23503';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'dossier % is sent without its submission time', dossier_external_id(bad.dossier_id)
            USING ERRCODE = '23514';
    END IF;
    -- A draft being created is the portal's business, not a transition.
    IF EXISTS (SELECT 1 FROM new_status WHERE state <> 'draft') THEN
        PERFORM dossier_changes_declare_an_actor(acts_as_owner(TG_RELID));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_status_created AFTER INSERT ON dossier_status
    REFERENCING NEW TABLE AS new_status
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_status_created();

-- The events, in the definer's rights: one per changed dossier, chained. The id is drawn first
-- because the hash covers it. A statement changes a dossier at most once and holds its row lock,
-- so the last hash read here is still the last when the event is written. A move into a decided
-- state names the decision of this transaction it carries out, and takes its reason (or its
-- findings' codes) unless the session gave one (SET eticket.reason). The trigger's name sorts
-- after the checker's, so that a refused statement is refused by its rule's message.
CREATE FUNCTION dossier_status_recorded() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    actor text := declared_actor();
    why   text := nullif(current_setting('eticket.reason', true), '');
    login text := session_user;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH event AS MATERIALIZED (
            SELECT nextval('dossier_events_id_seq'::regclass) AS id, n.dossier_id, n.version, n.state,
                   now() AS occurred_at
            FROM new_status n WHERE n.state <> 'draft' ORDER BY n.dossier_id
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
    WITH moved AS (
        SELECT dossier_id, max(state) FILTER (WHERE was_old) AS from_state, max(state) FILTER (WHERE NOT was_old) AS to_state,
               max(version) FILTER (WHERE NOT was_old) AS version
        FROM (SELECT true AS was_old, dossier_id, state, version FROM old_status
              UNION ALL SELECT false, dossier_id, state, version FROM new_status) AS sides
        GROUP BY dossier_id
    ), event AS MATERIALIZED (
        SELECT nextval('dossier_events_id_seq'::regclass) AS id, m.dossier_id, m.version, m.from_state, m.to_state,
               coalesce(why, x.explanation) AS reason, x.id AS decision_id, now() AS occurred_at,
               (SELECT p.hash FROM dossier_events p WHERE p.dossier_id = m.dossier_id ORDER BY p.id DESC LIMIT 1)
                   AS previous_hash
        FROM moved m
        LEFT JOIN LATERAL (
            SELECT d.id, coalesce(d.reason, (SELECT string_agg(f->>'code', ', ') FROM jsonb_array_elements(d.findings) f))
                       AS explanation
            FROM decisions d
            WHERE d.dossier_id = m.dossier_id AND d.dossier_version = m.version AND d.decided_at = now()
              AND d.outcome::text = m.to_state::text
            ORDER BY d.id DESC LIMIT 1
        ) x ON true
        WHERE m.to_state <> m.from_state
        ORDER BY m.dossier_id
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
REVOKE EXECUTE ON FUNCTION dossier_status_recorded() FROM PUBLIC;
CREATE TRIGGER dossier_status_recorded AFTER INSERT ON dossier_status
    REFERENCING NEW TABLE AS new_status
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_status_recorded();
CREATE TRIGGER dossier_status_recorded_moves AFTER UPDATE ON dossier_status
    REFERENCING OLD TABLE AS old_status NEW TABLE AS new_status
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_status_recorded();
