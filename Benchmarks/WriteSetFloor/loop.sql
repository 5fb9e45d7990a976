-- The issue's plain-SQL consumer: claim B rows, one decision and one ~4 KB outbox row each, delete.
BEGIN;
SELECT array_agg(id)::text AS ids FROM (SELECT id FROM floor_loop_queue ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 100) s \gset
INSERT INTO floor_loop_decisions (dossier_id, outcome) SELECT unnest(':ids'::bigint[]), 'validated';
INSERT INTO floor_loop_outbox (dossier_id, message)
SELECT i, i || ' ' || repeat('Bonjour, votre dossier a été traité. 1 ', 90) FROM unnest(':ids'::bigint[]) i;
DELETE FROM floor_loop_queue WHERE id = ANY (':ids'::bigint[]);
COMMIT;
