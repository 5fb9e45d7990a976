-- An email goes to its dossier's family and comes from its structure, whoever writes it.
--
-- The sender hands each outbox row to the relay as it stands: `recipient` becomes RCPT TO and
-- `sender` MAIL FROM. Without this, anyone holding the worker's or an administrator's database
-- login (both may INSERT into email_outbox) could make our relay, with our credentials and our
-- reputation, send any text to any address, or read a family's email elsewhere. The composer
-- (EmailOutbox, TemplateLibrary) always addresses an email to the dossier's account address
-- and sends it from the structure's `sender_email`: the database now holds every row to that,
-- for every role, the owner included (who may still switch the trigger off, as any trigger).
-- ETK10: an email addressed to anyone else, or sent from another address.

-- After each insert, one index probe per email into dossier_records, accounts and structures.
-- Fires after email_outbox_caused_here (triggers of one event fire by name): an email without its
-- cause is refused as such (ETK08) first; one with its cause and a stranger's address here.
CREATE FUNCTION email_outbox_to_the_family() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.dossier_id,
           n.recipient IS DISTINCT FROM a.email AS wrong_recipient
    INTO bad
    FROM new_emails n
    LEFT JOIN dossier_records d ON d.id = n.dossier_id
    LEFT JOIN accounts a ON a.id = d.account_id
    LEFT JOIN structures s ON s.id = n.structure_id
    WHERE n.recipient IS DISTINCT FROM a.email OR n.sender IS DISTINCT FROM s.sender_email
    LIMIT 1;
    IF FOUND THEN
        -- Never quotes the address: error texts reach logs, which carry ids only.
        RAISE EXCEPTION 'email % of dossier % is %', bad.id, bad.dossier_id,
            CASE WHEN bad.wrong_recipient THEN 'addressed to someone other than the dossier''s account'
                 ELSE 'sent from another address than its structure''s sender_email' END
            USING ERRCODE = 'ETK10',
                  HINT = 'an email''s recipient is its dossier''s account address and its sender its structure''s sender_email';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER email_outbox_to_the_family AFTER INSERT ON email_outbox
    REFERENCING NEW TABLE AS new_emails
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_to_the_family();

-- No role is granted UPDATE of these columns, but the owner may: the same rule when one of them
-- changes (a trigger with transition tables cannot name columns, so this one is per row, and
-- fires only when an address or the dossier moves; exports and deliveries never pay for it).
CREATE FUNCTION email_outbox_readdressed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.recipient IS DISTINCT FROM (SELECT a.email FROM dossier_records d JOIN accounts a ON a.id = d.account_id
                                       WHERE d.id = NEW.dossier_id) THEN
        RAISE EXCEPTION 'email % of dossier % is addressed to someone other than the dossier''s account',
            NEW.id, NEW.dossier_id USING ERRCODE = 'ETK10';
    END IF;
    IF NEW.sender IS DISTINCT FROM (SELECT sender_email FROM structures WHERE id = NEW.structure_id) THEN
        RAISE EXCEPTION 'email % of dossier % is sent from another address than its structure''s sender_email',
            NEW.id, NEW.dossier_id USING ERRCODE = 'ETK10';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER email_outbox_readdressed BEFORE UPDATE OF recipient, sender, dossier_id, structure_id ON email_outbox
    FOR EACH ROW
    WHEN (NEW.recipient IS DISTINCT FROM OLD.recipient OR NEW.sender IS DISTINCT FROM OLD.sender
          OR NEW.dossier_id IS DISTINCT FROM OLD.dossier_id OR NEW.structure_id IS DISTINCT FROM OLD.structure_id)
    EXECUTE FUNCTION email_outbox_readdressed();
