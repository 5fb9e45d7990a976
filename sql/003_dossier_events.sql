-- The audit trail: one row per state change, written by the status guards' event writer (008)
-- and never changed. Each event carries the hash of the previous event of its dossier and a hash
-- over its own fields and that link: changing, removing or reordering an event behind the
-- product's back breaks the chain, which `eticket audit verify` recomputes (and `audit anchor`
-- keeps outside the database, against whoever could rewrite a whole chain).
--
-- `actor` is what the session declared (worker:<host>:<pid>, admin:<name>, import); `login_role`
-- is the session's authenticated role (session_user, which no SET ROLE, SET eticket.actor or
-- SECURITY DEFINER changes), and the hash covers both.
CREATE TABLE dossier_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id      bigint NOT NULL,
    dossier_version integer NOT NULL,
    from_state      dossier_state,
    to_state        dossier_state NOT NULL,
    actor           text NOT NULL CHECK (length(actor) >= 1),
    reason          text,
    -- The decision this transition carries out, when it is one.
    decision_id     bigint,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    previous_hash   text,
    hash            text NOT NULL,
    login_role      text NOT NULL DEFAULT session_user
);
-- Read by the chain's link (the last event of a dossier), `dossier show`, `audit verify`, the
-- parts guard (the submission of this transaction) and a decision's carried-out check.
CREATE INDEX dossier_events_dossier ON dossier_events (dossier_id, id);

-- Every field quoted or NULL, so that no two different events share a text. STABLE and taking its
-- fields as arguments, so that the planner inlines it into the writer's INSERT.
CREATE FUNCTION dossier_event_hash(bigint, bigint, integer, dossier_state, dossier_state, text, text, bigint,
                                   timestamptz, text, text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        quote_nullable($1), quote_nullable($2), quote_nullable($3),
        quote_nullable($4::text), quote_nullable($5::text), quote_nullable($6),
        quote_nullable($7), quote_nullable($8),
        quote_nullable(to_char($9 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')),
        quote_nullable($10), quote_literal($11)), 'UTF8')), 'hex')
$$;

-- What `eticket audit verify` recomputes.
CREATE FUNCTION dossier_event_digest(e dossier_events) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT dossier_event_hash(e.id, e.dossier_id, e.dossier_version, e.from_state, e.to_state, e.actor,
                              e.reason, e.decision_id, e.occurred_at, e.previous_hash, e.login_role)
$$;

CREATE TRIGGER dossier_events_append_only BEFORE UPDATE OR DELETE ON dossier_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER dossier_events_no_truncate BEFORE TRUNCATE ON dossier_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Nothing but the event writer writes events: no application role holds INSERT, and an INSERT
-- that does not come from a trigger is refused whoever runs it. Depth 1 is a statement's own
-- trigger (an INSERT typed by hand, even the owner's, arrives there); the writer's INSERT arrives
-- at depth 2.
CREATE FUNCTION dossier_events_from_triggers_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
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
