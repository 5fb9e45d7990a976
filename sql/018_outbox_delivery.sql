-- Mail delivery: each outbox message's way to the mail relay (`eticket outbox send`).
--
--   pending   not offered yet (or put back by an operator);
--   sent      the relay answered 250 to its DATA: delivery_reply and delivered_at say so;
--   deferred  the relay answered 4xx, or the connection broke or went silent before its answer:
--             offered again at next_attempt_at;
--   failed    the relay answered 5xx (or the attempts ran out): delivery_reply says why;
--   skipped   exported to files before this migration: whatever read those files delivered it,
--             so eticket never sends it (a second copy to the family otherwise).
--
-- Exporting to files (exported_at) is not sending, and sending is not exporting: the two are
-- independent. The sender marks a message sent in the transaction that held its row locked while
-- the relay took it, committed as soon as the relay's 250 arrives.

CREATE TYPE email_delivery AS ENUM ('pending', 'sent', 'deferred', 'failed', 'skipped');

ALTER TABLE email_outbox
    ADD COLUMN delivery email_delivery NOT NULL DEFAULT 'pending',
    ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN delivery_reply text,
    ADD CONSTRAINT email_outbox_delivery_consistent CHECK (
        delivery_attempts >= 0
        AND (delivery = 'sent') = (delivered_at IS NOT NULL)
        AND (delivery = 'deferred') = (next_attempt_at IS NOT NULL)
        AND (delivery NOT IN ('sent', 'failed', 'skipped') OR delivery_reply IS NOT NULL)
        AND (delivery NOT IN ('sent', 'deferred', 'failed') OR (delivery_attempts > 0 AND last_attempt_at IS NOT NULL))
    );

UPDATE email_outbox SET delivery = 'skipped',
    delivery_reply = 'not sent by eticket: exported to files before mail delivery existed (migration 018)'
WHERE exported_at IS NOT NULL;

-- What a sender claims, oldest first.
CREATE INDEX email_outbox_to_send ON email_outbox (id) WHERE delivery IN ('pending', 'deferred');

-- A message sent or skipped is final: marking it pending again would send the family a second
-- copy. Only a failed message goes back to pending (an operator's retry).
CREATE FUNCTION email_outbox_delivery_moves() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF OLD.delivery IN ('sent', 'skipped') AND (NEW.delivery, NEW.delivered_at, NEW.delivery_reply)
        IS DISTINCT FROM (OLD.delivery, OLD.delivered_at, OLD.delivery_reply) THEN
        RAISE EXCEPTION 'email % is %: its delivery never changes', OLD.id, OLD.delivery USING ERRCODE = 'ETK09';
    END IF;
    IF NEW.delivery = 'pending' AND OLD.delivery NOT IN ('pending', 'failed') THEN
        RAISE EXCEPTION 'email % is %: only a failed email is put back to pending', OLD.id, OLD.delivery
            USING ERRCODE = 'ETK09';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER email_outbox_delivery_moves BEFORE UPDATE OF delivery, delivered_at, delivery_reply ON email_outbox
    FOR EACH ROW EXECUTE FUNCTION email_outbox_delivery_moves();

-- The sender is the batch run's job (`batch run --send`, `outbox send`); administrators read the
-- states (their SELECT covers the new columns) and never write them, nor does the worker, whose
-- INSERT names its columns (014): a message is always written pending.
GRANT UPDATE (delivery, delivery_attempts, last_attempt_at, next_attempt_at, delivered_at, delivery_reply)
    ON email_outbox TO eticket_batch;
