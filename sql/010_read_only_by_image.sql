-- The read-only check by image (issue 6: a worker's state change compared each dossier's content,
-- jsonb, value by value, twice per validated dossier). `*<>` (record_image_ne) compares each
-- column's detoasted bytes: for content stored inline, as the portal's lines are, a memcmp instead
-- of jsonb's structural comparison; content moved out of line is fetched for both rows either way.
-- It is also stricter than IS DISTINCT FROM, as a read-only check should be: an equal value spelled
-- otherwise (182734.0 for 182734 in jsonb) is a change. NULL equals NULL.
-- (The whole function again: CREATE OR REPLACE needs it, and landed migrations are never edited.
-- Only the read-only check differs from 009.)
CREATE OR REPLACE FUNCTION dossiers_check_and_record() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    actor text := nullif(current_setting('eticket.actor', true), '');
    why   text := nullif(current_setting('eticket.reason', true), '');
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
        WITH event AS MATERIALIZED (
            SELECT nextval('dossier_events_id_seq'::regclass) AS id, n.id AS dossier_id, n.version, n.state,
                   now() AS occurred_at
            FROM new_dossiers n WHERE n.state <> 'draft' ORDER BY n.id
        )
        INSERT INTO dossier_events (id, dossier_id, dossier_version, from_state, to_state, actor, reason,
                                    occurred_at, previous_hash, hash)
        OVERRIDING SYSTEM VALUE
        SELECT e.id, e.dossier_id, e.version, NULL, e.state, actor, why, e.occurred_at, NULL,
               dossier_event_hash(e.id, e.dossier_id, e.version, NULL, e.state, actor, why, NULL, e.occurred_at, NULL)
        FROM event e;
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
    IF NOT EXISTS (SELECT 1 FROM old_dossiers o JOIN new_dossiers n USING (id) WHERE n.state <> o.state) THEN
        RETURN NULL;
    END IF;
    IF actor IS NULL THEN
        RAISE EXCEPTION 'dossier state changes need an actor: SET eticket.actor' USING ERRCODE = 'ETK05';
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
                                occurred_at, previous_hash, hash)
    OVERRIDING SYSTEM VALUE
    SELECT e.id, e.dossier_id, e.version, e.from_state, e.to_state, actor, e.reason, e.decision_id,
           e.occurred_at, e.previous_hash,
           dossier_event_hash(e.id, e.dossier_id, e.version, e.from_state, e.to_state, actor, e.reason,
                              e.decision_id, e.occurred_at, e.previous_hash)
    FROM event e;
    RETURN NULL;
END
$$;
