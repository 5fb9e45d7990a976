-- What processing a batch must write, in one statement (one round trip; the rules, the rendering
-- and the transfer of the emails cost nothing here): delete the claimed queue rows, one decision
-- with the content's hash, one state change, the rights, the rendered emails (copied from what the
-- bench's workers rendered, decompressed so that the server compresses them again as it would).
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
    UPDATE floor_dossiers d SET state = b.final_state, updated_at = now() FROM batch b WHERE d.id = b.id),
rights AS (
    INSERT INTO floor_rights (child_id, dossier_id, structure_id, service_id, period_id, opened_by)
    SELECT r.child_id, r.dossier_id, r.structure_id, r.service_id, r.period_id, 'worker:floor'
    FROM claimed c JOIN floor_rights_source r ON r.dossier_id = c.dossier_id),
emails AS (
    INSERT INTO floor_outbox (dossier_id, structure_id, kind, message_id, sender, recipient, subject, message)
    SELECT e.dossier_id, e.structure_id, e.kind, e.message_id, e.sender, e.recipient, e.subject, e.message || ''::bytea
    FROM claimed c JOIN floor_emails_source e ON e.dossier_id = c.dossier_id)
SELECT count(*) FROM claimed;
