-- Retention of families' personal data: a returned dossier that the family never sent again is
-- emptied of its personal data once its structure's retention period (structures.retention_days)
-- has passed (`eticket dossiers purge`, the owner's). What was decided, and that a purge happened,
-- stay.
CREATE TABLE purges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Written one at a time by the owner's purge: a plain foreign key is the right tool here.
    dossier_id  bigint NOT NULL REFERENCES dossier_records,
    returned_at timestamptz NOT NULL,
    purged_by   text NOT NULL,
    purged_at   timestamptz NOT NULL DEFAULT now(),
    login_role  text DEFAULT session_user
);
-- Read by `dossier show`, and by the key above when a dossier record is deleted.
CREATE INDEX purges_dossier ON purges (dossier_id);
