-- The import's write path, cut to what is read (issue 17, point 5). Measured per dossier with
-- pg_walinspect between two LSNs around `dossiers import` (docs/performance.md):
--
-- 1. The primary keys of guardians, trusted_persons and documents: nothing looks a row up by its
--    id (a dossier's parts are read by (dossier_id, position); the parts guard pairs an update's
--    rows in its transition tables, not through an index). Each cost every part an index entry:
--    about 270 B of WAL a dossier. Their ids stay, drawn from their identity (the parts guard
--    pairs by id, and a duplicate id supplied by hand only makes it refuse more, never less).
ALTER TABLE guardians DROP CONSTRAINT guardians_pkey;
ALTER TABLE trusted_persons DROP CONSTRAINT trusted_persons_pkey;
ALTER TABLE documents DROP CONSTRAINT documents_pkey;

-- 2. A dossier's account is an account of its structure (002), checked set-based instead
--    of by the composite foreign key, which cost every imported dossier a query and a KEY SHARE
--    lock on its account (a WAL record each, and the account's page dirtied again), and every
--    account an index entry of (id, structure_id) that only that key read.
ALTER TABLE dossier_records DROP CONSTRAINT dossiers_account_of_its_structure;
ALTER TABLE accounts DROP CONSTRAINT accounts_id_structure;

-- The child side: one probe of accounts' primary key per written record, once per statement. In
-- the definer's rights, as a foreign key's check: it must see the account whatever the caller's
-- row-level security shows it (an administrator does not see another structure's accounts, and
-- must still be told that this one is not of its structure).
-- Named to fire before the record guard (009), as the foreign key did: a record moved to another
-- structure is refused for its account first.
CREATE FUNCTION dossier_records_name_their_accounts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.external_id, n.account_id INTO bad FROM new_records n
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id AND a.structure_id = n.structure_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossiers_account_of_its_structure violated: dossier % names account %, which is not an account of its structure',
            bad.external_id, bad.account_id USING ERRCODE = '23503', CONSTRAINT = 'dossiers_account_of_its_structure';
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION dossier_records_name_their_accounts() FROM PUBLIC;
CREATE TRIGGER dossier_records_account_of_its_structure AFTER INSERT ON dossier_records
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_records_name_their_accounts();
CREATE TRIGGER dossier_records_account_of_its_structure_updated AFTER UPDATE ON dossier_records
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION dossier_records_name_their_accounts();

-- The parent side: an account that a dossier names is neither deleted nor moved to another
-- structure (the foreign key's NO ACTION). Rare, the owner's alone (no application role may
-- delete an account or change its structure): a scan of the records, as the key's check was.
CREATE FUNCTION accounts_named_by_dossiers() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    named bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT o.id INTO named FROM old_accounts o
        WHERE EXISTS (SELECT 1 FROM dossier_records d WHERE d.account_id = o.id) LIMIT 1;
    ELSE
        SELECT o.id INTO named FROM old_accounts o
        WHERE NOT EXISTS (SELECT 1 FROM new_accounts n WHERE n.id = o.id AND n.structure_id = o.structure_id)
          AND EXISTS (SELECT 1 FROM dossier_records d WHERE d.account_id = o.id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'account % is named by dossiers: it cannot be deleted or change structure', named
            USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION accounts_named_by_dossiers() FROM PUBLIC;
CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS old_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_named_by_dossiers();
CREATE TRIGGER accounts_updated AFTER UPDATE ON accounts
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_named_by_dossiers();
-- TRUNCATE fires no delete trigger; the foreign key refused it too.
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- The import now draws a new account's id and copies the account in, as it does a new dossier
-- (a plain insert: one WAL record per page instead of one per row); an administrator importing
-- for its structures does the same, as it gives a new dossier's id already.
GRANT INSERT (id) ON accounts TO eticket_admin;

-- 3. The dossier's content: a record longer than about 2 kB is compressed by PostgreSQL, with
--    pglz unless told otherwise; lz4 compresses as well here for a fraction of the CPU.
ALTER TABLE dossier_records ALTER COLUMN content SET COMPRESSION lz4;

-- 4. The ids of accounts and parts order nothing (a dossier's parts are ordered by position, and
--    one COPY writes them): each session takes them a thousand at a time instead of logging its
--    sequence every 32 values (about 25 B of WAL a dossier; ids a session leaves unused are
--    skipped, as after any rollback). Not the ids that order things: dossiers (the queue takes
--    them in the file's order), events (a dossier's chain), the queue (its claim order).
ALTER TABLE accounts ALTER COLUMN id SET CACHE 1000;
ALTER TABLE children ALTER COLUMN id SET CACHE 1000;
ALTER TABLE guardians ALTER COLUMN id SET CACHE 1000;
ALTER TABLE trusted_persons ALTER COLUMN id SET CACHE 1000;
ALTER TABLE documents ALTER COLUMN id SET CACHE 1000;
