-- The export reads the pending outbox a batch at a time, in id order. Right after the workers
-- have written a burst of emails (autovacuum analyses a table up to a minute later), the planner
-- has no statistics of `exported_at` and takes the pending rows for a handful (half a percent):
-- it then joins and sorts every pending row for each batch, instead of reading the next batch
-- from `email_outbox_pending` in order. An export of 149,245 emails spent 0.084 ms of server CPU
-- a message in that read, against 0.002 once the table was analysed.
--
-- The export calls this first. ANALYZE is the table owner's in PostgreSQL 15, so the function is
-- the owner's: the roles that export (batch, admin) refresh statistics they could not otherwise.
-- It analyses only a table whose size the planner no longer knows — never analysed, or whose live
-- rows differ by more than a tenth from those counted at its last analysis, the import's rule
-- (`IntakeStore.staleTables`) — and only the columns that the outbox's queries filter or join on:
-- the particulars and messages, most of an ANALYZE's work, wait for autovacuum.
--
-- Best effort: when another session holds the table's ANALYZE lock (autovacuum, another export's
-- refresh, a VACUUM) the function returns false at once rather than wait; an anti-wraparound
-- vacuum is never cancelled, and an export must not hang behind it. The lock is held until the
-- caller's transaction ends: the export calls it on its own, outside a transaction.
CREATE FUNCTION refresh_outbox_statistics() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_class c
        WHERE c.oid = 'public.email_outbox'::regclass
          AND (c.reltuples < 0 OR abs(pg_stat_get_live_tuples(c.oid) - c.reltuples) > 0.1 * c.reltuples)
    ) THEN
        RETURN false;
    END IF;
    BEGIN
        LOCK TABLE public.email_outbox IN SHARE UPDATE EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN false;
    END;
    ANALYZE public.email_outbox (id, structure_id, dossier_id, period_id, decision_id, kind, exported_at, delivery);
    RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION refresh_outbox_statistics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_outbox_statistics() TO eticket_batch, eticket_admin;
