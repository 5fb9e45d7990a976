-- One state change per validated dossier whose rights open at once (issue 17).
--
-- A dossier that the worker validates and whose rights it opens at once moved twice: submitted →
-- validated, then validated → planning_open, two status versions and two chained events. It now
-- takes both transitions in one move, submitted → planning_open, in the statement that opens its
-- rights; its event records the decided state it passed through (`via` validated) and names the
-- validated decision it carries out. dossier_transitions is unchanged: such a move is legal only
-- with a validated decision recorded by its transaction for the dossier's version (for everyone,
-- the owner included), and every rule of 008 holds of it as of its two transitions: the worker
-- makes it only where the structure reviews automatically, with rights opened by its transaction.
-- A dossier validated by an administrator, or whose rights do not open at once, still moves
-- through validated.

-- The decided state a move passes through without stopping there: a submitted dossier validated
-- and given its planning in one statement moves to planning_open via validated. Written out
-- where it is needed, as
--     CASE WHEN from_state = 'submitted' AND to_state = 'planning_open' THEN 'validated' END
-- rather than as a function: a function pins its search_path, which keeps the planner from
-- inlining it, and the guards would call it several times for every move of every batch.
ALTER TABLE dossier_events ADD COLUMN via dossier_state,
    ADD CONSTRAINT dossier_events_via CHECK (via IS NOT DISTINCT FROM
        CASE WHEN from_state = 'submitted' AND to_state = 'planning_open' THEN 'validated'::dossier_state END);

-- The chain's hash covers `via` when there is one. concat_ws skips a NULL: an event without one
-- hashes exactly as before, so that the chains written before this migration still verify.
CREATE FUNCTION dossier_event_hash(bigint, bigint, integer, dossier_state, dossier_state, text, text, bigint,
                                   timestamptz, text, text, dossier_state) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        quote_nullable($1), quote_nullable($2), quote_nullable($3),
        quote_nullable($4::text), quote_nullable($5::text), quote_nullable($6),
        quote_nullable($7), quote_nullable($8),
        quote_nullable(to_char($9 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        quote_nullable($10), quote_literal($11), quote_literal($12::text)), 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION dossier_event_digest(e dossier_events) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT dossier_event_hash(e.id, e.dossier_id, e.dossier_version, e.from_state, e.to_state, e.actor,
                              e.reason, e.decision_id, e.occurred_at, e.previous_hash, e.login_role, e.via)
$$;

-- 008's rule: a move is a transition of the table, or the two transitions submitted → validated →
-- planning_open with the validated decision of this transaction for the dossier's version (ETK02;
-- decided_at is the transaction's start, which no application role writes). Decisions are read
-- only when a statement makes such a move, and only by a role that may read them: the intake,
-- which may not, is refused such a move as any other that is not a transition.
CREATE OR REPLACE FUNCTION dossier_moves_are_transitions(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
    WHERE m.to_state <> m.from_state AND NOT (m.from_state = 'submitted' AND m.to_state = 'planning_open')
      AND NOT EXISTS (SELECT 1 FROM dossier_transitions t WHERE t.from_state = m.from_state AND t.to_state = m.to_state)
    LIMIT 1;
    IF NOT FOUND AND EXISTS (SELECT 1 FROM unnest(moves) m WHERE m.from_state = 'submitted' AND m.to_state = 'planning_open') THEN
        IF has_table_privilege('decisions', 'SELECT')
           AND EXISTS (SELECT 1 FROM dossier_transitions WHERE from_state = 'submitted' AND to_state = 'validated')
           AND EXISTS (SELECT 1 FROM dossier_transitions WHERE from_state = 'validated' AND to_state = 'planning_open') THEN
            SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
            WHERE m.from_state = 'submitted' AND m.to_state = 'planning_open'
              AND NOT EXISTS (SELECT 1 FROM decisions d
                              WHERE d.dossier_id = m.dossier_id AND d.dossier_version = m.to_version
                                AND d.decided_at = now() AND d.outcome = 'validated')
            LIMIT 1;
        ELSE
            SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
            WHERE m.from_state = 'submitted' AND m.to_state = 'planning_open' LIMIT 1;
        END IF;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot move from % to %', dossier_external_id(bad.dossier_id), bad.from_state,
            bad.to_state USING ERRCODE = 'ETK02';
    END IF;
END
$$;

-- 008's rule, with the worker's one move: submitted → planning_open where submitted → validated is
-- its to make (the structure reviews automatically).
CREATE OR REPLACE FUNCTION dossier_moves_fit_the_role(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.from_state, m.to_state INTO bad FROM unnest(moves) m
    WHERE m.to_state <> m.from_state
      AND NOT ((m.to_state = 'submitted' AND m.from_state IN ('draft', 'returned'))
               OR (m.from_state = 'submitted' AND m.to_state IN ('awaiting_review', 'returned'))
               OR (m.from_state = 'validated' AND m.to_state = 'planning_open')
               OR (m.from_state = 'submitted' AND m.to_state IN ('validated', 'planning_open')
                   AND (SELECT s.review FROM dossier_records d JOIN structures s ON s.id = d.structure_id
                        WHERE d.id = m.dossier_id) = 'automatic'))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier %: moving it from % to % is an administrator''s decision, not role %''s',
            dossier_external_id(bad.dossier_id), bad.from_state, bad.to_state, current_user USING ERRCODE = 'ETK06';
    END IF;
END
$$;

-- 008's rule, for the state a move decides: its target, or the decided state it passes through.
CREATE OR REPLACE FUNCTION dossier_decided_states_have_decisions(moves dossier_move[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT m.dossier_id, m.to_state INTO bad
    FROM unnest(moves) m,
         LATERAL (SELECT CASE WHEN m.from_state = 'submitted' AND m.to_state = 'planning_open' THEN 'validated' ELSE m.to_state END
                  AS decided) x
    WHERE m.to_state <> m.from_state AND x.decided IN ('validated', 'awaiting_review', 'returned', 'rejected')
      AND NOT EXISTS (SELECT 1 FROM decisions d
                      WHERE d.dossier_id = m.dossier_id AND d.dossier_version = m.to_version
                        AND d.decided_at = now() AND d.outcome::text = x.decided::text)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become % without a decision recorded in the same transaction',
            dossier_external_id(bad.dossier_id), bad.to_state USING ERRCODE = 'ETK07';
    END IF;
END
$$;

-- 008's checker; only the test for a decided move changed (a move via validated is one).
CREATE OR REPLACE FUNCTION dossier_status_checked() RETURNS trigger
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
    IF EXISTS (SELECT 1 FROM unnest(moves) m
               WHERE CASE WHEN m.from_state = 'submitted' AND m.to_state = 'planning_open' THEN 'validated' ELSE m.to_state END
                     IN ('validated', 'awaiting_review', 'returned', 'rejected')) THEN
        PERFORM dossier_decided_states_have_decisions(moves);
    END IF;
    PERFORM dossier_planning_opens_with_rights(moves);
    RETURN NULL;
END
$$;

-- 008's event writer, writing `via` and linking the decision of the state a move decides. The
-- hash is dossier_event_hash's expression written out: a function that pins its search_path is
-- never inlined, and calling it cost a function call per event (audit verify recomputes every
-- hash with the function, so the two cannot drift unnoticed).
CREATE OR REPLACE FUNCTION dossier_status_recorded() RETURNS trigger
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
               encode(sha256(convert_to(concat_ws('|',
                   quote_nullable(e.id), quote_nullable(e.dossier_id), quote_nullable(e.version),
                   quote_nullable(NULL::text), quote_nullable(e.state::text), quote_nullable(actor),
                   quote_nullable(why), quote_nullable(NULL::bigint),
                   quote_nullable(to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
                   quote_nullable(NULL::text), quote_literal(login)), 'UTF8')), 'hex'),
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
               coalesce(why, x.explanation) AS reason, x.id AS decision_id, now() AS occurred_at,
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
           e.occurred_at, e.previous_hash,
           encode(sha256(convert_to(concat_ws('|',
               quote_nullable(e.id), quote_nullable(e.dossier_id), quote_nullable(e.version),
               quote_nullable(e.from_state::text), quote_nullable(e.to_state::text), quote_nullable(actor),
               quote_nullable(e.reason), quote_nullable(e.decision_id),
               quote_nullable(to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
               quote_nullable(e.previous_hash), quote_literal(login), quote_literal(e.via::text)), 'UTF8')), 'hex'),
           login
    FROM event e;
    RETURN NULL;
END
$$;
