-- The work queue and the decisions it produces.

CREATE TYPE queue_job AS ENUM ('process', 'open_rights');

-- One row per piece of due or scheduled work. Workers claim rows with FOR UPDATE SKIP LOCKED inside
-- their processing transaction and delete them before committing: a worker that dies releases its
-- rows by rolling back, so there is no lease to expire.
--
-- run_at orders everything: a new submission is due at its submission time (oldest first), a
-- retry at now() + backoff, scheduled rights at the period's planning_opens_at. The partial index
-- below makes the claim read only the rows it returns, however deep the queue. Its dossier and
-- period are checked by 010's guard.
CREATE TABLE dossier_queue (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL,
    job         queue_job NOT NULL DEFAULT 'process',
    -- The period whose rights to open, for open_rights.
    period_id   bigint,
    run_at      timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    -- When the last attempt failed; run_at is then this plus the backoff.
    last_attempt_at timestamptz,
    -- Set when the attempts ran out: the row is parked for an administrator (eticket queue retry).
    failed_at   timestamptz,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((job = 'open_rights') = (period_id IS NOT NULL)),
    -- Read by the import's and the scheduler's ON CONFLICT DO NOTHING: a dossier is queued once per job.
    UNIQUE NULLS NOT DISTINCT (dossier_id, job, period_id)
);
-- Read by the claim (ORDER BY run_at, id … FOR UPDATE SKIP LOCKED) and the idle worker's next wake.
CREATE INDEX dossier_queue_due ON dossier_queue (run_at, id) WHERE failed_at IS NULL;
-- The queue churns (insert, delete); keep its dead rows from piling up between vacuums.
ALTER TABLE dossier_queue SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                               autovacuum_vacuum_insert_scale_factor = 0.01);

-- Wake idle workers once per inserting statement, not once per row.
CREATE FUNCTION dossier_queue_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('dossier_queue', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER dossier_queue_notify AFTER INSERT ON dossier_queue
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_queue_notify();

CREATE TYPE decision_outcome AS ENUM ('validated', 'awaiting_review', 'returned', 'rejected');

CREATE TABLE decisions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id      bigint NOT NULL,
    dossier_version integer NOT NULL,
    outcome         decision_outcome NOT NULL,
    -- [{code, part, message_fr, message_en}], every finding of every rule.
    findings        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(findings) = 'array'),
    reason          text,
    rules_version   text NOT NULL,
    -- SHA-256 of the dossier content judged (dossiers.content as text).
    content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    -- worker:<host>:<pid>, or admin:<name>; login_role is who the session really is (003).
    decided_by      text NOT NULL CHECK (decided_by ~ '^(worker|admin):.+'),
    -- The transaction's start: no application role may write it (012), so that "decided in this
    -- transaction" can be proved by it.
    decided_at      timestamptz NOT NULL DEFAULT now(),
    login_role      text NOT NULL DEFAULT session_user,
    CHECK (outcome <> 'returned' OR jsonb_array_length(findings) > 0 OR reason IS NOT NULL)
);
-- Read by `dossier show`, the event writer's link to the decision a move carries out, and the
-- decided-state guard (008).
CREATE INDEX decisions_dossier ON decisions (dossier_id, id);
-- Read by `queue stats` (the decisions of the last hour).
CREATE INDEX decisions_decided_at ON decisions (decided_at);
-- Many workers, one verdict: a submission version is judged by a worker at most once.
CREATE UNIQUE INDEX decisions_one_worker_verdict ON decisions (dossier_id, dossier_version)
    WHERE decided_by LIKE 'worker:%';

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- A decision fits its dossier when written: the dossier exists, and (for the application's roles)
-- the decision is for its current version with an outcome the dossier may move to from its
-- current state (the state change follows in the same transaction). No stray verdict (a worker's
-- "rejected" on a submitted dossier, a decision on a dossier long decided) can be left for
-- `dossier show` to display. One primary-key probe of dossier_status and one of the transitions
-- per decision.
CREATE FUNCTION decisions_fit_their_dossiers() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner boolean := acts_as_owner(TG_RELID);
    bad   record;
BEGIN
    SELECT n.dossier_id, n.dossier_version, n.outcome, s.dossier_id IS NULL AS missing INTO bad
    FROM new_decisions n
    LEFT JOIN dossier_status s ON s.dossier_id = n.dossier_id
    WHERE s.dossier_id IS NULL
       OR (NOT owner AND (s.version <> n.dossier_version
                          OR NOT EXISTS (SELECT 1 FROM dossier_transitions t
                                         WHERE t.from_state = s.state AND t.to_state::text = n.outcome::text)))
    LIMIT 1;
    IF FOUND AND bad.missing THEN
        RAISE EXCEPTION 'a decision names dossier %, which does not exist', bad.dossier_id USING ERRCODE = '23503';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'a decision % on dossier % version % does not fit the dossier''s current state or version',
            bad.outcome, bad.dossier_id, bad.dossier_version USING ERRCODE = 'ETK07';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER decisions_fit_their_dossiers AFTER INSERT ON decisions
    REFERENCING NEW TABLE AS new_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_fit_their_dossiers();

-- A decision is carried out by its transaction: at commit, the event of the state change it
-- decided names it (the event writer links a decision of the same transaction). A deferred row
-- trigger (constraint triggers have no statement form): one index probe per decision, at commit,
-- so that the decision may be written before its state change.
CREATE FUNCTION decisions_carried_out() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- The probe first: the owner's exemption is looked up only for a decision left undone.
    IF EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = NEW.dossier_id AND e.decision_id = NEW.id) THEN
        RETURN NULL;
    END IF;
    IF NOT acts_as_owner(TG_RELID) THEN
        RAISE EXCEPTION 'a decision % on dossier % version % was carried out by no state change of its transaction',
            NEW.outcome, NEW.dossier_id, NEW.dossier_version USING ERRCODE = 'ETK07',
            HINT = 'write the decision and move the dossier to its outcome in one transaction';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER decisions_carried_out AFTER INSERT ON decisions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION decisions_carried_out();
