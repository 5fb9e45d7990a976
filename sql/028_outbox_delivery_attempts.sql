-- Marking an email sent is the sender's, done as the sender does it, and recorded.
--
-- The database cannot know whether a relay took a message: whoever holds the batch run's login
-- (eticket_batch, which `outbox send` needs) could mark an email sent that was never offered, and
-- the family would never get it. No fence helps there: a row lock, a claim token or a lease that
-- the sender takes, a thief of its login takes as well. What the database does:
--
--   * it refuses every move the sender never makes (ETK09): only a due email (pending or
--     deferred) is marked sent, deferred or failed, each move counting exactly one attempt made
--     now (last_attempt_at, and delivered_at for sent, within this transaction), and `sent` only
--     with a positive reply of the relay (2xx); a failed email goes back to pending only as
--     it was (the operator's retry), and nothing else moves;
--   * it records every delivery move, whoever makes it, in email_delivery_log: the email, the
--     move, the attempt, the relay's reply code, the login (session_user, which no SET ROLE
--     changes) and the actor it declared, when. No application role may read or change it; the
--     owner reads it, and compares it with the relay's own log (Message-ID, "queued as").
--
-- The owner may still repair a row by hand (it is subject to no rule here, as elsewhere); its
-- moves are recorded too.

CREATE TABLE email_delivery_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: a purge deletes a dossier's emails, and their delivery history stays.
    email_id      bigint NOT NULL,
    structure_id  bigint NOT NULL,
    from_delivery email_delivery NOT NULL,
    to_delivery   email_delivery NOT NULL,
    attempt       integer NOT NULL,
    -- The reply's code only (`250`, `550`): its text may quote an address, and this log outlives
    -- a purge.
    reply_code    text,
    login_role    name NOT NULL,
    actor         text,
    occurred_at   timestamptz NOT NULL
);
CREATE INDEX email_delivery_log_email ON email_delivery_log (email_id);
REVOKE ALL ON email_delivery_log FROM PUBLIC;
CREATE TRIGGER email_delivery_log_append_only BEFORE UPDATE OR DELETE ON email_delivery_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER email_delivery_log_no_truncate BEFORE TRUNCATE ON email_delivery_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The moves an application role may make, beside 018's rule that sent and skipped are final
-- (email_outbox_delivery_moves, which fires first: triggers of one event fire by name).
CREATE FUNCTION email_outbox_delivery_one_attempt() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF acts_as_owner(TG_RELID) THEN
        RETURN NEW;
    END IF;
    IF OLD.delivery = 'failed' AND NEW.delivery = 'pending' THEN
        IF (NEW.delivery_attempts, NEW.last_attempt_at, NEW.next_attempt_at, NEW.delivered_at)
            IS DISTINCT FROM (OLD.delivery_attempts, OLD.last_attempt_at, NULL::timestamptz, NULL::timestamptz) THEN
            RAISE EXCEPTION 'email %: a failed email goes back to pending as it was, its attempts kept', OLD.id
                USING ERRCODE = 'ETK09';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.delivery NOT IN ('pending', 'deferred') OR NEW.delivery NOT IN ('sent', 'deferred', 'failed') THEN
        RAISE EXCEPTION 'email % is %: only a pending or deferred email is marked sent, deferred or failed', OLD.id,
            OLD.delivery USING ERRCODE = 'ETK09';
    END IF;
    IF NEW.delivery_attempts IS DISTINCT FROM OLD.delivery_attempts + 1
        OR NOT NEW.last_attempt_at BETWEEN now() AND clock_timestamp() THEN
        RAISE EXCEPTION 'email %: a delivery is recorded as one more attempt, made now (delivery_attempts % then %)',
            OLD.id, OLD.delivery_attempts, NEW.delivery_attempts USING ERRCODE = 'ETK09',
            HINT = 'set delivery_attempts = delivery_attempts + 1 and last_attempt_at = clock_timestamp()';
    END IF;
    IF NEW.delivery = 'sent' AND (NEW.delivery_reply !~ '^2[0-9][0-9]( |$)'
                                  OR NOT NEW.delivered_at BETWEEN now() AND clock_timestamp()) THEN
        RAISE EXCEPTION 'email %: sent only with the relay''s positive reply (2xx), delivered now', OLD.id
            USING ERRCODE = 'ETK09';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER email_outbox_delivery_one_attempt
    BEFORE UPDATE OF delivery, delivery_attempts, last_attempt_at, next_attempt_at, delivered_at, delivery_reply
    ON email_outbox FOR EACH ROW
    WHEN ((OLD.delivery, OLD.delivery_attempts, OLD.last_attempt_at, OLD.next_attempt_at, OLD.delivered_at, OLD.delivery_reply)
          IS DISTINCT FROM
          (NEW.delivery, NEW.delivery_attempts, NEW.last_attempt_at, NEW.next_attempt_at, NEW.delivered_at, NEW.delivery_reply))
    EXECUTE FUNCTION email_outbox_delivery_one_attempt();

-- Every delivery move, by anyone. SECURITY DEFINER: no application role may write the log itself.
CREATE FUNCTION email_outbox_delivery_logged() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO email_delivery_log (email_id, structure_id, from_delivery, to_delivery, attempt, reply_code, login_role,
                                    actor, occurred_at)
    VALUES (NEW.id, NEW.structure_id, OLD.delivery, NEW.delivery, NEW.delivery_attempts, left(NEW.delivery_reply, 3),
            session_user, declared_actor(), clock_timestamp());
    RETURN NULL;
END
$$;
CREATE TRIGGER email_outbox_delivery_logged
    AFTER UPDATE OF delivery, delivery_attempts, last_attempt_at, next_attempt_at, delivered_at, delivery_reply
    ON email_outbox FOR EACH ROW
    WHEN ((OLD.delivery, OLD.delivery_attempts, OLD.delivered_at, OLD.delivery_reply)
          IS DISTINCT FROM (NEW.delivery, NEW.delivery_attempts, NEW.delivered_at, NEW.delivery_reply))
    EXECUTE FUNCTION email_outbox_delivery_logged();
