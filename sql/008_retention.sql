-- Retention of families' personal data: a returned dossier that the family never sent again is
-- emptied of its personal data once the structure's retention period has passed (eticket dossiers
-- purge). What was decided, and that a purge happened, stay.

ALTER TABLE structures ADD COLUMN retention_days integer NOT NULL DEFAULT 365 CHECK (retention_days >= 0);
ALTER TABLE dossiers ADD COLUMN purged_at timestamptz;

CREATE TABLE purges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL REFERENCES dossiers,
    returned_at timestamptz NOT NULL,
    purged_by   text NOT NULL,
    purged_at   timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON purges TO eticket_worker, eticket_admin;
ALTER TABLE purges ENABLE ROW LEVEL SECURITY;
CREATE POLICY structure_isolation ON purges TO eticket_admin USING (administers_dossier(dossier_id, current_user));
CREATE POLICY worker_all ON purges TO eticket_worker USING (true);
