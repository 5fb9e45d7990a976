-- Added to write-set.sql's statement by run.sh for the write-set-audited replay: the audit trail,
-- one event per state change a dossier went through (two for one validated with its planning open).
, events AS (
    INSERT INTO floor_events (dossier_id, from_state, to_state, actor)
    SELECT id, 'submitted', CASE WHEN final_state = 'planning_open' THEN 'validated' ELSE final_state END, 'worker:floor' FROM batch
    UNION ALL
    SELECT id, 'validated', 'planning_open', 'worker:floor' FROM batch WHERE final_state = 'planning_open')
