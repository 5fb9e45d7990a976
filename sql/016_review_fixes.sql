-- What an attacker's review of 013 and 014 still found (issue 16, classes 4 and 6):
--
--  * a dossier could name another structure's account (dossiers.account_id referenced accounts
--    only), and a resubmission could switch a dossier to another account: the worker then wrote
--    the family's email to that account's address, which the dossier's administrators read;
--  * an administrator could INSERT a dossier with any column (purged_at, version 42, created_at
--    2000), and an account with any column;
--  * the intake could move a validated dossier to planning_open, and a worker could do it with no
--    rights opened;
--  * an administrator could INSERT a decision that no state change carried out (a stray verdict
--    that `dossier show` displays);
--  * a worker could open rights as `admin:Marie Curie`.
--
-- The schema's owner stays exempt from the rules about roles, as in 013.

-- 1. A dossier's account is an account of the dossier's structure: one index probe per written
-- row, as the foreign key it joins.
ALTER TABLE accounts ADD CONSTRAINT accounts_id_structure UNIQUE (id, structure_id);
ALTER TABLE dossiers ADD CONSTRAINT dossiers_account_of_its_structure
    FOREIGN KEY (account_id, structure_id) REFERENCES accounts (id, structure_id);

-- And a dossier keeps the account that sent it: no application role may change account_id (the
-- import's resubmission keeps it, and refuses a line sent again under another account's address).
REVOKE UPDATE (account_id) ON dossiers FROM eticket_intake;
REVOKE UPDATE ON dossiers FROM eticket_admin;
GRANT UPDATE (structure_id, external_id, version, state, locale, confirmed, terms_accepted_at, house_rules_accepted_at,
              submitted_at, notes, content, created_at, updated_at, purged_at)
    ON dossiers TO eticket_admin;

-- 2. An administrator writes what the intake writes (014), and no more: a new dossier's version,
-- creation and purge mark are the database's.
REVOKE INSERT ON dossiers, accounts FROM eticket_admin;
GRANT INSERT (id, structure_id, account_id, external_id, state, locale, confirmed, terms_accepted_at,
              house_rules_accepted_at, submitted_at, notes, content) ON dossiers TO eticket_admin;
GRANT INSERT (structure_id, email, first_name, last_name) ON accounts TO eticket_admin;

-- 3. A dossier's planning opens by the worker's or an administrator's hand (the batch run is a
-- worker), in the transaction that opened rights for it: opened_at is the transaction's start,
-- which no application role may write (013). Runs after 002's checks (names sort), so that a move
-- that is no transition at all is refused by their message.
CREATE FUNCTION dossiers_planning_opened_with_rights() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS $$
DECLARE
    bad record;
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
       OR NOT EXISTS (SELECT 1 FROM new_dossiers WHERE state = 'planning_open') THEN
        RETURN NULL;
    END IF;
    IF NOT (pg_has_role(current_user, 'eticket_worker', 'USAGE') OR pg_has_role(current_user, 'eticket_admin', 'USAGE')) THEN
        SELECT n.external_id, o.state INTO bad
        FROM old_dossiers o JOIN new_dossiers n USING (id)
        WHERE n.state = 'planning_open' AND o.state <> 'planning_open'
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'dossier %: opening its planning is the worker''s or an administrator''s move, not role %''s',
                bad.external_id, current_user USING ERRCODE = 'ETK06';
        END IF;
        RETURN NULL;
    END IF;
    SELECT n.external_id INTO bad
    FROM old_dossiers o JOIN new_dossiers n USING (id)
    WHERE n.state = 'planning_open' AND o.state <> 'planning_open'
      AND (SELECT r.id FROM reservation_rights r WHERE r.dossier_id = n.id AND r.opened_at = now() LIMIT 1) IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dossier % cannot become planning_open without rights opened in the same transaction',
            bad.external_id USING ERRCODE = 'ETK07';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER dossiers_updated_check_planning AFTER UPDATE ON dossiers
    REFERENCING OLD TABLE AS old_dossiers NEW TABLE AS new_dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION dossiers_planning_opened_with_rights();

-- 4. A decision is carried out by its transaction: at commit, the event of the state change it
-- decided names it (the events trigger links a decision of the same transaction, 013). One index
-- probe per decision, at commit, so that the decision may be written before its state change.
CREATE FUNCTION decisions_carried_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = NEW.dossier_id AND e.decision_id = NEW.id) THEN
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

-- 5. Rights name who opened them as a decision names who decided (013): the name fits the role
-- (a worker opens as worker:…, an administrator as admin:…), and never as the import, which opens
-- nothing. By actor_fits_role, so that a login holding two jobs may open as either.
CREATE POLICY opened_as_its_role ON reservation_rights AS RESTRICTIVE FOR INSERT TO eticket_worker, eticket_admin
    WITH CHECK (opened_by <> 'import' AND actor_fits_role(opened_by));
