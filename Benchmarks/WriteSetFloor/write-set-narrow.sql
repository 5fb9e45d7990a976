-- write-set.sql with the state kept in a narrow table of its own: the state change writes a few
-- bytes instead of a new version of the 1.6 KB dossier row (half the WAL). Whether the write set
-- is held back by the WAL's volume or by the work of the statements, this tells them apart.
WITH claimed AS (
    DELETE FROM floor_queue WHERE id IN (SELECT id FROM floor_queue ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 100)
    RETURNING dossier_id),
batch AS (
    SELECT d.id, d.content, o.outcome, o.findings, o.final_state
    FROM claimed c JOIN floor_dossiers d ON d.id = c.dossier_id JOIN floor_outcome o ON o.dossier_id = c.dossier_id),
decisions AS (
    INSERT INTO floor_decisions (dossier_id, outcome, findings, content_sha256, decided_by)
    SELECT id, outcome, findings, encode(sha256(convert_to(content::text, 'UTF8')), 'hex'), 'worker:floor' FROM batch),
states AS (
    UPDATE floor_states s SET state = b.final_state FROM batch b WHERE s.dossier_id = b.id),
rights AS (
    INSERT INTO floor_rights (child_id, dossier_id, structure_id, service_id, period_id, opened_by)
    SELECT r.child_id, r.dossier_id, r.structure_id, r.service_id, r.period_id, 'worker:floor'
    FROM claimed c JOIN floor_rights_source r ON r.dossier_id = c.dossier_id),
emails AS (
    INSERT INTO floor_outbox (dossier_id, structure_id, kind, message_id, sender, recipient, subject, message)
    SELECT e.dossier_id, e.structure_id, e.kind, e.message_id, e.sender, e.recipient, e.subject, e.message || ''::bytea
    FROM claimed c JOIN floor_emails_source e ON e.dossier_id = c.dossier_id)
SELECT count(*) FROM claimed;
