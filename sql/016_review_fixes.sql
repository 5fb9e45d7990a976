-- What an attacker's review of 013 and 014 still found (issue 16, classes 4 and 6):
--
--  * a dossier could name another structure's account (dossiers.account_id referenced accounts
--    only), and a resubmission could switch a dossier to another account: the worker then wrote
--    the family's email to that account's address, which the dossier's administrators read.
--
-- The schema's owner stays exempt, as in 013.

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
