-- Each replay starts from the same settled state: the same rows queued, nothing left for autovacuum
-- or the checkpointer from the replay before it.
TRUNCATE floor_states, floor_queue, floor_dossiers, floor_decisions, floor_rights, floor_outbox, floor_events,
         floor_loop_queue, floor_loop_decisions, floor_loop_outbox;
INSERT INTO floor_dossiers (id, structure_id, version, state, content) SELECT id, structure_id, version, 'submitted', content FROM dossiers;
INSERT INTO floor_queue (dossier_id) SELECT id FROM dossiers ORDER BY id;
INSERT INTO floor_states SELECT id, 'submitted' FROM dossiers;
INSERT INTO floor_loop_queue (dossier_id) SELECT id FROM dossiers ORDER BY id;
VACUUM ANALYZE;
CHECKPOINT;
