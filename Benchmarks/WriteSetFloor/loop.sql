-- The issue's plain-SQL consumer: claim B rows, one decision and one outbox row each (one of the
-- run's rendered emails, decompressed so that the server compresses it again), delete.
BEGIN;
SELECT array_agg(id)::text AS ids FROM (SELECT id FROM floor_loop_queue ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 100) s \gset
INSERT INTO floor_loop_decisions (dossier_id, outcome) SELECT unnest(':ids'::bigint[]), 'validated';
INSERT INTO floor_loop_outbox (dossier_id, message)
SELECT i, m.message || ''::bytea FROM unnest(':ids'::bigint[]) i
JOIN floor_loop_messages m ON m.n = i % (SELECT count(*) FROM floor_loop_messages);
DELETE FROM floor_loop_queue WHERE id = ANY (':ids'::bigint[]);
COMMIT;
