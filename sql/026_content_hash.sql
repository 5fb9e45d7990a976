-- The SHA-256 of each dossier's line as the portal sent it (its bytes: the jsonb content keeps the
-- values, not the text), 32 bytes computed by the import, so that whoever records a decision over
-- the content copies it instead of hashing the content in SQL (issue 17, point 5). NULL for a
-- record written without it (by hand, through the `dossiers` view): the content's own hash is then
-- the one to take. The record guard (009) keeps it read-only with the rest of the record.
ALTER TABLE dossier_records ADD COLUMN content_sha256 bytea
    CONSTRAINT dossier_records_content_sha256_length CHECK (octet_length(content_sha256) = 32);
GRANT INSERT (content_sha256) ON dossier_records TO eticket_intake, eticket_admin;
GRANT UPDATE (content_sha256) ON dossier_records TO eticket_intake;
