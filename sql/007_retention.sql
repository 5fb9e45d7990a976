-- Retention of families' personal data: a returned dossier that the family never sent again is
-- emptied of its personal data once its structure's retention period (structures.retention_days)
-- has passed (`eticket dossiers purge`, the owner's). What was decided, and that a purge happened,
-- stay.
CREATE TABLE purges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id  bigint NOT NULL,
    returned_at timestamptz NOT NULL,
    purged_by   text NOT NULL,
    purged_at   timestamptz NOT NULL DEFAULT now(),
    login_role  text DEFAULT session_user
);
-- Read by `dossier show` and the parent-side guard of dossier_records (010).
CREATE INDEX purges_dossier ON purges (dossier_id);
