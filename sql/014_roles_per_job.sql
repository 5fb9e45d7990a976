-- A role for each job (issue 16: `dossiers import` as an administrator failed on COPY and row-level
-- security, `batch run` as the worker role on the outbox export, and the shipped units gave both
-- the workers' environment). Each group role below holds what its job needs and no more; login
-- roles are made members of one of them (README, "What each role may do").
--
--   eticket_intake  `dossiers import`, for every structure: accounts, dossiers (written as
--                   submitted, or a returned one submitted again), their parts, the queue.
--   eticket_worker  `worker`: judges submitted dossiers, opens rights, writes the emails (006).
--   eticket_batch   `batch run` and `outbox export`: the worker's work, then marks the emails
--                   exported.
--   eticket_admin   a structure administrator, for the structures mapped in structure_admins (006).
--   the owner       `db migrate`, `structures apply`, `admins grant|revoke`, `dossiers purge`,
--                   `audit verify|anchor`: owns the schema, is subject to no policy.
--
-- Roles belong to the cluster: created only where missing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'eticket_intake') THEN
        CREATE ROLE eticket_intake NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'eticket_batch') THEN
        CREATE ROLE eticket_batch NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles b ON b.oid = m.member
                   WHERE r.rolname = 'eticket_worker' AND b.rolname = 'eticket_batch') THEN
        GRANT eticket_worker TO eticket_batch;
    END IF;
END
$$;

-- The intake. COPY cannot write a table under row-level security, so the import stages its rows
-- in temporary tables and inserts them from there when its role is subject to it (IntakeWriter).
GRANT USAGE ON SCHEMA public TO eticket_intake;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO eticket_intake;
GRANT SELECT ON structures, dossier_transitions, accounts, dossiers, children, guardians, trusted_persons, documents,
    dossier_events, dossier_queue TO eticket_intake;
GRANT INSERT, UPDATE (first_name, last_name) ON accounts TO eticket_intake;
GRANT INSERT (id, structure_id, account_id, external_id, state, locale, confirmed, terms_accepted_at,
              house_rules_accepted_at, submitted_at, notes, content) ON dossiers TO eticket_intake;
-- A returned dossier sent again: its next version, written and submitted in one update.
GRANT UPDATE (account_id, version, state, locale, confirmed, terms_accepted_at, house_rules_accepted_at,
              submitted_at, notes, content, updated_at) ON dossiers TO eticket_intake;
GRANT INSERT, DELETE ON children, guardians, trusted_persons, documents TO eticket_intake;
GRANT INSERT ON dossier_queue TO eticket_intake;
-- Every command checks that the schema is the one it expects (the migrator made this table first).
GRANT SELECT ON schema_migrations TO eticket_intake;
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['structures', 'accounts', 'dossiers', 'children', 'guardians', 'trusted_persons',
                                'documents', 'dossier_events', 'dossier_queue'] LOOP
        EXECUTE format('CREATE POLICY intake_all ON %I TO eticket_intake USING (true) WITH CHECK (true)', name);
    END LOOP;
END
$$;

-- An administrator's import updates an account's names as the intake does; the address the
-- family's emails go to is not an administrator's to change by hand (006 granted every column).
REVOKE UPDATE ON accounts FROM eticket_admin;
GRANT UPDATE (first_name, last_name) ON accounts TO eticket_admin;

-- An email is written pending, now: a writer who set exported_at would keep it from the family
-- (and created_at feeds the batch run's counts).
REVOKE INSERT ON email_outbox FROM eticket_worker, eticket_admin;
GRANT INSERT (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient, subject, message)
    ON email_outbox TO eticket_worker, eticket_admin;

-- The batch run: a worker (by membership, policies included) that also exports the outbox.
GRANT UPDATE (exported_at) ON email_outbox TO eticket_batch;

-- The structure helpers answer only for a role the session may act as: called by hand with
-- another administrator's role name, they would say which dossiers that one administers (and so
-- count another structure's dossiers). They serve the administrators' policies only.
CREATE OR REPLACE FUNCTION administers(structure bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_has_role(session_user, role, 'MEMBER')
       AND EXISTS (SELECT 1 FROM structure_admins WHERE structure_id = structure AND role_name = role)
$$;

CREATE OR REPLACE FUNCTION administers_dossier(dossier bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_has_role(session_user, role, 'MEMBER')
       AND EXISTS (
           SELECT 1 FROM dossiers d JOIN structure_admins a ON a.structure_id = d.structure_id
           WHERE d.id = dossier AND a.role_name = role)
$$;

REVOKE EXECUTE ON FUNCTION administers(bigint, name), administers_dossier(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION administers(bigint, name), administers_dossier(bigint, name) TO eticket_admin;

-- The name a session may declare (013), now that the intake has a role of its own: by role, so
-- that a login holding two jobs (the intake's and the worker's) may declare either one.
CREATE OR REPLACE FUNCTION actor_fits_role(actor text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (pg_has_role(current_user, 'eticket_admin', 'USAGE') AND (actor LIKE 'admin:_%' OR actor = 'import'))
        OR (pg_has_role(current_user, 'eticket_worker', 'USAGE') AND actor LIKE 'worker:_%')
        OR (pg_has_role(current_user, 'eticket_intake', 'USAGE') AND actor = 'import')
$$;
