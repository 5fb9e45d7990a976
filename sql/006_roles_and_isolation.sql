-- Roles, and row-level security so that a structure's administrators see only their families.
--
-- eticket_worker: what a worker needs, across every structure.
-- eticket_admin:  a structure administrator's role; members see and change only the rows of the
--                 structures they are mapped to in structure_admins (eticket admins grant/revoke).
-- The schema's owner (who runs the migrations) is not subject to these policies.
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
END
$$;

CREATE TABLE structure_admins (
    role_name    name NOT NULL,
    structure_id bigint NOT NULL REFERENCES structures,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_name, structure_id)
);

-- Whether the role administers the structure. SECURITY DEFINER reads the mapping whatever the
-- caller may see of it (the search_path is pinned so that the caller cannot redirect it); inside
-- it current_user is the definer, so the policies pass the caller's current_user in.
CREATE FUNCTION administers(structure bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM structure_admins WHERE structure_id = structure AND role_name = role)
$$;

-- Whether the role may see the dossier: through its structure, one lookup per part.
CREATE FUNCTION administers_dossier(dossier bigint, role name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM dossiers d JOIN structure_admins a ON a.structure_id = d.structure_id
        WHERE d.id = dossier AND a.role_name = role)
$$;

-- Grants. Workers read everything they judge and write decisions, events, rights, emails.
GRANT USAGE ON SCHEMA public TO eticket_worker, eticket_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO eticket_worker, eticket_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO eticket_worker, eticket_admin;
GRANT INSERT ON decisions, dossier_events, reservation_rights, email_outbox TO eticket_worker;
GRANT UPDATE (state, updated_at) ON dossiers TO eticket_worker;
GRANT INSERT, UPDATE, DELETE ON dossier_queue TO eticket_worker;
-- Administrators import, decide, open rights, book, export, for their structures.
GRANT INSERT, UPDATE ON accounts, dossiers TO eticket_admin;
GRANT INSERT, UPDATE, DELETE ON children, guardians, trusted_persons, documents, dossier_queue,
    reservation_rights, reservations TO eticket_admin;
GRANT INSERT ON decisions, dossier_events, email_outbox TO eticket_admin;
GRANT UPDATE (exported_at) ON email_outbox TO eticket_admin;
REVOKE SELECT ON structure_admins FROM eticket_worker, eticket_admin;

-- Policies: every table that holds a structure's data.
DO $$
DECLARE
    direct text[] := ARRAY['structures', 'document_kinds', 'services', 'periods', 'accounts', 'dossiers',
                           'reservation_rights', 'email_outbox'];
    through_dossier text[] := ARRAY['children', 'guardians', 'trusted_persons', 'documents',
                                    'dossier_queue', 'decisions', 'dossier_events'];
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
END
$$;

CREATE POLICY structure_isolation ON reservations TO eticket_admin
    USING (administers_dossier((SELECT dossier_id FROM children WHERE id = child_id), current_user))
    WITH CHECK (administers_dossier((SELECT dossier_id FROM children WHERE id = child_id), current_user));
