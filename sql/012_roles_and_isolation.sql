-- A role for each job, and row-level security so that a structure's administrators see only their
-- families. Each group role holds what its job needs and no more; login roles are made members of
-- one of them (README, "What each role may do").
--
--   eticket_intake  `dossiers import`, for every structure: accounts, dossiers (written as
--                   submitted, or a returned one submitted again), their parts, the queue.
--   eticket_worker  `worker`: judges submitted dossiers, opens rights, writes the emails.
--   eticket_batch   `batch run` and `outbox export`: the worker's work (by membership, policies
--                   included), then marks the emails exported.
--   eticket_admin   a structure administrator, for the structures mapped in structure_admins.
--   the owner       `db migrate`, `structures apply`, `admins grant|revoke`, `dossiers purge`,
--                   `audit verify|anchor`: owns the schema, is subject to no policy.
--
-- Times that prove "this transaction" (decided_at, opened_at, created_at of an email) and names that
-- say who (login_role) are the database's: no role is granted those columns.
--
-- Roles belong to the cluster, not the database: they are created only where missing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'eticket_worker') THEN
        CREATE ROLE eticket_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'eticket_admin') THEN
        CREATE ROLE eticket_admin NOLOGIN;
    END IF;
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

CREATE TABLE structure_admins (
    role_name    name NOT NULL,
    structure_id bigint NOT NULL REFERENCES structures,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_name, structure_id)
);

-- Whether the role administers the structure. SECURITY DEFINER reads the mapping whatever the
-- caller may see of it; inside it current_user is the definer, so the policies pass the caller's
-- current_user in. It answers only for a role the session may act as: called by hand with another
-- administrator's role name, it would say which dossiers that one administers.
CREATE FUNCTION administers(structure bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_has_role(session_user, role, 'MEMBER')
       AND EXISTS (SELECT 1 FROM structure_admins WHERE structure_id = structure AND role_name = role)
$$;

-- Whether the role may see the dossier: through its structure, one lookup per part.
CREATE FUNCTION administers_dossier(dossier bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_has_role(session_user, role, 'MEMBER')
       AND EXISTS (
           SELECT 1 FROM dossier_records d JOIN structure_admins a ON a.structure_id = d.structure_id
           WHERE d.id = dossier AND a.role_name = role)
$$;
REVOKE EXECUTE ON FUNCTION administers(bigint, name), administers_dossier(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION administers(bigint, name), administers_dossier(bigint, name) TO eticket_admin;

-- Reading. Workers and administrators read every table (row-level security narrows the
-- administrators'); nobody reads the administrators' mapping but the owner.
GRANT USAGE ON SCHEMA public TO eticket_worker, eticket_admin, eticket_intake;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO eticket_worker, eticket_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO eticket_worker, eticket_admin, eticket_intake;
REVOKE SELECT ON structure_admins FROM eticket_worker, eticket_admin;

-- The worker: decisions, rights, emails, the state moves, the queue. (Events are the triggers'.)
GRANT INSERT (dossier_id, dossier_version, outcome, findings, reason, rules_version, content_sha256, decided_by)
    ON decisions TO eticket_worker, eticket_admin;
GRANT INSERT (child_id, dossier_id, structure_id, service_id, period_id, opened_by, notes)
    ON reservation_rights TO eticket_worker, eticket_admin;
GRANT INSERT (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient, subject, message)
    ON email_outbox TO eticket_worker, eticket_admin;
GRANT UPDATE (state, updated_at) ON dossier_status, dossiers TO eticket_worker;
GRANT INSERT, UPDATE, DELETE ON dossier_queue TO eticket_worker;

-- The batch run: a worker that also marks the emails exported.
GRANT UPDATE (exported_at) ON email_outbox TO eticket_batch;

-- The intake. COPY cannot write a table under row-level security, so the import stages its rows
-- in temporary tables and inserts them from there when its role is subject to it (IntakeWriter).
GRANT SELECT ON structures, dossier_transitions, accounts, dossiers, dossier_records, dossier_status, children,
    guardians, trusted_persons, documents, dossier_events, dossier_queue, schema_migrations TO eticket_intake;
GRANT SELECT (id, structure_id, code) ON services TO eticket_intake;
GRANT INSERT, UPDATE (first_name, last_name) ON accounts TO eticket_intake;
GRANT INSERT (id, structure_id, account_id, external_id, state, locale, confirmed, terms_accepted_at,
              house_rules_accepted_at, submitted_at, notes, content) ON dossiers TO eticket_intake, eticket_admin;
GRANT INSERT (id, structure_id, account_id, external_id, locale, confirmed, terms_accepted_at,
              house_rules_accepted_at, submitted_at, notes, content) ON dossier_records TO eticket_intake, eticket_admin;
GRANT INSERT (dossier_id, state) ON dossier_status TO eticket_intake, eticket_admin;
-- A returned dossier sent again: its next version and its submission, then its record. Its account
-- stays (whoever reads the account's address must not receive another family's emails).
GRANT UPDATE (version, state, locale, confirmed, terms_accepted_at, house_rules_accepted_at, submitted_at, notes,
              content, updated_at) ON dossiers TO eticket_intake;
GRANT UPDATE (locale, confirmed, terms_accepted_at, house_rules_accepted_at, submitted_at, notes, content)
    ON dossier_records TO eticket_intake;
GRANT UPDATE (version, state, updated_at) ON dossier_status TO eticket_intake, eticket_admin;
GRANT INSERT, DELETE ON children, guardians, trusted_persons, documents TO eticket_intake;
GRANT INSERT ON dossier_queue TO eticket_intake;

-- Administrators import, decide, open rights, book, export, for their structures. They write what
-- the intake writes (a new dossier's version, creation and purge mark are the database's); their
-- hand-written edits of a dossier are refused by the guards rather than audited.
GRANT INSERT (structure_id, email, first_name, last_name), UPDATE (first_name, last_name) ON accounts TO eticket_admin;
GRANT UPDATE (structure_id, external_id, version, state, locale, confirmed, terms_accepted_at, house_rules_accepted_at,
              submitted_at, notes, content, created_at, updated_at, purged_at) ON dossiers TO eticket_admin;
GRANT UPDATE (structure_id, external_id, locale, confirmed, terms_accepted_at, house_rules_accepted_at,
              submitted_at, notes, content, created_at, purged_at) ON dossier_records TO eticket_admin;
GRANT INSERT, UPDATE, DELETE ON children, guardians, trusted_persons, documents, dossier_queue TO eticket_admin;
GRANT UPDATE (notes), DELETE ON reservation_rights TO eticket_admin;
GRANT INSERT (child_id, service_id, period_id, day, created_by, notes), UPDATE (notes), DELETE
    ON reservations TO eticket_admin;
GRANT UPDATE (exported_at) ON email_outbox TO eticket_admin;

-- Policies: every table that holds a structure's data.
DO $$
DECLARE
    direct text[] := ARRAY['structures', 'document_kinds', 'services', 'periods', 'accounts', 'dossier_records',
                           'reservation_rights', 'email_outbox'];
    through_dossier text[] := ARRAY['dossier_status', 'children', 'guardians', 'trusted_persons', 'documents',
                                    'dossier_queue', 'decisions', 'dossier_events', 'purges'];
    name text;
BEGIN
    FOREACH name IN ARRAY direct || through_dossier || ARRAY['reservations'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format('CREATE POLICY worker_all ON %I TO eticket_worker USING (true) WITH CHECK (true)', name);
    END LOOP;
    FOREACH name IN ARRAY direct LOOP
        EXECUTE format(
            'CREATE POLICY structure_isolation ON %I TO eticket_admin USING (administers(%s, current_user)) WITH CHECK (administers(%s, current_user))',
            name, CASE name WHEN 'structures' THEN 'id' ELSE 'structure_id' END,
            CASE name WHEN 'structures' THEN 'id' ELSE 'structure_id' END);
    END LOOP;
    FOREACH name IN ARRAY through_dossier LOOP
        EXECUTE format(
            'CREATE POLICY structure_isolation ON %I TO eticket_admin USING (administers_dossier(dossier_id, current_user)) WITH CHECK (administers_dossier(dossier_id, current_user))',
            name);
    END LOOP;
    FOREACH name IN ARRAY ARRAY['structures', 'accounts', 'dossier_records', 'dossier_status', 'children', 'guardians',
                                'trusted_persons', 'documents', 'dossier_events', 'dossier_queue'] LOOP
        EXECUTE format('CREATE POLICY intake_all ON %I TO eticket_intake USING (true) WITH CHECK (true)', name);
    END LOOP;
END
$$;
CREATE POLICY intake_reads ON services FOR SELECT TO eticket_intake USING (true);

CREATE POLICY structure_isolation ON reservations TO eticket_admin
    USING (administers_dossier((SELECT dossier_id FROM children WHERE id = child_id), current_user))
    WITH CHECK (administers_dossier((SELECT dossier_id FROM children WHERE id = child_id), current_user));

-- A decision's declared author matches its role: a worker cannot sign as an administrator, nor an
-- administrator as a worker (whose verdicts are unique per version). Restrictive policies, ANDed
-- with the others.
CREATE POLICY declared_as_worker ON decisions AS RESTRICTIVE FOR INSERT TO eticket_worker
    WITH CHECK (decided_by LIKE 'worker:%');
CREATE POLICY declared_as_admin ON decisions AS RESTRICTIVE FOR INSERT TO eticket_admin
    WITH CHECK (decided_by LIKE 'admin:%');

-- Rights name who opened them as a decision names who decided: the name fits the role, and never
-- the import, which opens nothing.
CREATE POLICY opened_as_its_role ON reservation_rights AS RESTRICTIVE FOR INSERT TO eticket_worker, eticket_admin
    WITH CHECK (opened_by <> 'import' AND actor_fits_role(opened_by));
