-- The least any implementation of eticket's processing and import must write, in bare tables (a
-- primary key, the one index each read needs, no foreign key, check, trigger or policy), filled
-- from what `eticket bench` wrote: the same dossiers, outcomes, rights and rendered emails.
-- Run by run.sh on the database a bench run left; nothing here touches eticket's own tables.

CREATE TABLE floor_outcome (dossier_id bigint PRIMARY KEY, outcome text NOT NULL, findings jsonb NOT NULL, final_state text NOT NULL);
CREATE TABLE floor_rights_source (dossier_id bigint NOT NULL, child_id bigint NOT NULL, structure_id bigint NOT NULL,
    service_id bigint NOT NULL, period_id bigint NOT NULL);
CREATE INDEX ON floor_rights_source (dossier_id);
CREATE TABLE floor_emails_source (dossier_id bigint NOT NULL, structure_id bigint NOT NULL, kind text NOT NULL, message_id text NOT NULL,
    sender text NOT NULL, recipient text NOT NULL, subject text NOT NULL, message bytea NOT NULL);
CREATE INDEX ON floor_emails_source (dossier_id);

-- A dossier validated with its planning open ends in planning_open: one state change, not two.
INSERT INTO floor_outcome
SELECT d.dossier_id, d.outcome::text, d.findings,
       CASE WHEN EXISTS (SELECT 1 FROM reservation_rights r WHERE r.dossier_id = d.dossier_id) THEN 'planning_open' ELSE d.outcome::text END
FROM decisions d;
INSERT INTO floor_rights_source SELECT dossier_id, child_id, structure_id, service_id, period_id FROM reservation_rights;
-- Since 029 an outbox row keeps its email's particulars (the JSON), rendered when it leaves: the
-- floor writes that payload, or the rendered message of a row written before.
INSERT INTO floor_emails_source
SELECT dossier_id, structure_id, kind::text, message_id, sender, recipient, coalesce(subject, ''),
       coalesce(message, convert_to(particulars::text, 'UTF8')) FROM email_outbox;

-- Processing: the queue, the dossiers (their content included), and what a batch writes.
CREATE TABLE floor_queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL,
    run_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX floor_queue_due ON floor_queue (run_at, id);
CREATE TABLE floor_dossiers (id bigint PRIMARY KEY, structure_id bigint NOT NULL, version int NOT NULL, state text NOT NULL,
    content jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
-- The narrow-state replay keeps the state here instead (fillfactor 50: its updates stay on their page).
CREATE TABLE floor_states (dossier_id bigint PRIMARY KEY, state text NOT NULL) WITH (fillfactor = 50);
CREATE TABLE floor_decisions (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL, outcome text NOT NULL,
    findings jsonb NOT NULL, content_sha256 text NOT NULL, decided_by text NOT NULL, decided_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE floor_rights (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, child_id bigint NOT NULL, dossier_id bigint NOT NULL,
    structure_id bigint NOT NULL, service_id bigint NOT NULL, period_id bigint NOT NULL, opened_by text NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now());
-- lz4, as email_outbox.message (migration 009): the floor compresses the emails as the product does.
CREATE TABLE floor_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL, structure_id bigint NOT NULL,
    kind text NOT NULL, message_id text NOT NULL, sender text NOT NULL, recipient text NOT NULL, subject text NOT NULL,
    message bytea COMPRESSION lz4 NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE floor_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL, from_state text,
    to_state text NOT NULL, actor text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());

-- The issue's plain-SQL loop, in the same driver.
CREATE TABLE floor_loop_queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL,
    run_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX floor_loop_queue_due ON floor_loop_queue (run_at, id);
CREATE TABLE floor_loop_decisions (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL,
    outcome text NOT NULL, decided_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE floor_loop_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL,
    message bytea COMPRESSION lz4 NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
-- The loop writes the run's own outbox payloads, as the bench's loop does (500 of them, a
-- deterministic spread over the outbox): filler text compresses to almost nothing and flattered it.
CREATE TABLE floor_loop_messages (n int PRIMARY KEY, message bytea NOT NULL);
INSERT INTO floor_loop_messages
SELECT row_number() OVER (ORDER BY md5(id::text)) - 1, coalesce(message, convert_to(particulars::text, 'UTF8'))
FROM email_outbox ORDER BY md5(id::text) LIMIT 500;

-- Import: the dossier row and its children as rows (the one part stored apart from the content,
-- migration 032), with their primary key and the index that finds a dossier's children; and the
-- bare lines, the import's own floor.
CREATE TABLE floor_import_dossiers (id bigint PRIMARY KEY, structure_id bigint NOT NULL, account_id bigint NOT NULL,
    external_id text NOT NULL, version int NOT NULL, state text NOT NULL, confirmed boolean NOT NULL, submitted_at timestamptz,
    content jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE floor_import_children (LIKE children INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (id));
CREATE INDEX ON floor_import_children (dossier_id);
CREATE TABLE floor_import_queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id bigint NOT NULL,
    run_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON floor_import_queue (run_at, id);
CREATE TABLE floor_import_lines (line bigint PRIMARY KEY, content jsonb NOT NULL);
