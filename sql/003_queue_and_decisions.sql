-- The work queue and the decisions it produces.

CREATE TYPE queue_job AS ENUM ('process', 'open_rights');

-- One row per piece of due or scheduled work. Workers claim rows with FOR UPDATE SKIP LOCKED inside
-- their processing transaction and delete them before committing: a worker that dies releases its
-- rows by rolling back, so there is no lease to expire.
--
-- run_at orders everything: a new submission is due at its submission time (oldest first), a
-- retry at now() + backoff, scheduled rights at the period's planning_opens_at. The partial index
-- below makes the claim read only the rows it returns, however deep the queue.
CREATE TABLE dossier_queue (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL REFERENCES dossiers,
    job         queue_job NOT NULL DEFAULT 'process',
    -- The period whose rights to open, for open_rights.
    period_id   bigint REFERENCES periods,
    run_at      timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    -- When the last attempt failed; run_at is then this plus the backoff.
    last_attempt_at timestamptz,
    -- Set when the attempts ran out: the row is parked for an administrator (eticket queue retry).
    failed_at   timestamptz,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((job = 'open_rights') = (period_id IS NOT NULL)),
    UNIQUE NULLS NOT DISTINCT (dossier_id, job, period_id)
);
CREATE INDEX dossier_queue_due ON dossier_queue (run_at, id) WHERE failed_at IS NULL;
-- The queue churns (insert, delete); keep its dead rows from piling up between vacuums.
ALTER TABLE dossier_queue SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                               autovacuum_vacuum_insert_scale_factor = 0.01);

-- Wake idle workers once per inserting statement, not once per row.
CREATE FUNCTION dossier_queue_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
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
    dossier_id      bigint NOT NULL REFERENCES dossiers,
    dossier_version integer NOT NULL,
    outcome         decision_outcome NOT NULL,
    -- [{code, part, message_fr, message_en}], every finding of every rule.
    findings        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(findings) = 'array'),
    reason          text,
    rules_version   text NOT NULL,
    -- SHA-256 of the dossier content judged (dossiers.content as text).
    content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    -- worker:<host>:<pid>, or admin:<name>.
    decided_by      text NOT NULL CHECK (decided_by ~ '^(worker|admin):.+'),
    decided_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (outcome <> 'returned' OR jsonb_array_length(findings) > 0 OR reason IS NOT NULL)
);
CREATE INDEX decisions_dossier ON decisions (dossier_id, id);
CREATE INDEX decisions_decided_at ON decisions (decided_at);
-- Many workers, one verdict: a submission version is judged by a worker at most once.
CREATE UNIQUE INDEX decisions_one_worker_verdict ON decisions (dossier_id, dossier_version)
    WHERE decided_by LIKE 'worker:%';

ALTER TABLE dossier_events ADD FOREIGN KEY (decision_id) REFERENCES decisions;

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
