-- The import refuses a child's service that its structure does not run, so the intake reads the
-- services' codes (every structure's, as it reads the structures).
GRANT SELECT (id, structure_id, code) ON services TO eticket_intake;
CREATE POLICY intake_reads ON services FOR SELECT TO eticket_intake USING (true);
