-- The export reads the pending outbox a batch at a time, in id order. When the planner believes
-- there are few pending rows and there are many, it joins and sorts every pending row for each
-- batch instead of reading the next batch from `email_outbox_pending` in order: quadratic in the
-- backlog. Two cases: right after the workers' burst (autovacuum analyses a table up to a minute
-- later, and a table never analysed gets a default half a percent for `exported_at IS NULL`), and
-- a burst of new emails in an outbox of many exported ones (the last analysis saw hardly any
-- pending, and the burst is too small a share of the table for autovacuum to analyse it again).
-- An export of 149,245 emails spent 0.084 ms of server CPU a message in that read, against 0.002
-- once the table was analysed.
--
-- The export calls this first, with its batch size. ANALYZE is the table owner's in PostgreSQL
-- 15, so the function is the owner's: the roles that export (batch, admin) refresh statistics
-- they could not otherwise. It analyses only when the pending rows are more than one batch (with
-- one batch, the plan reads them once whatever it is) and more than twice what the planner
-- believes (rows × the null fraction of `exported_at`), and only the columns that the outbox's
-- queries filter or join on: the particulars and messages, most of an ANALYZE's work, wait for
-- autovacuum. Once analysed, the belief matches and the next call does nothing.
--
-- Best effort: when another session holds the table's ANALYZE lock (autovacuum, another export's
-- refresh, a VACUUM) the function returns false at once rather than wait; an anti-wraparound
-- vacuum is never cancelled, and an export must not hang behind it. The lock is held until the
-- caller's transaction ends: the export calls it on its own, outside a transaction.
CREATE FUNCTION refresh_outbox_statistics(batch_size integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    pending  bigint := (SELECT count(*) FROM public.email_outbox WHERE exported_at IS NULL);
    believed double precision := (
        SELECT greatest(c.reltuples, 0) * coalesce(s.null_frac, 0)
        FROM pg_class c
        LEFT JOIN pg_stats s ON s.schemaname = 'public' AND s.tablename = 'email_outbox' AND s.attname = 'exported_at'
        WHERE c.oid = 'public.email_outbox'::regclass);
BEGIN
    IF pending <= greatest(batch_size, 1) OR pending <= 2 * believed THEN
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
REVOKE EXECUTE ON FUNCTION refresh_outbox_statistics(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_outbox_statistics(integer) TO eticket_batch, eticket_admin;
