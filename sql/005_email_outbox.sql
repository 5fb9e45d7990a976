-- Rendered emails waiting for the mail relay. A row holds the exact bytes that will be exported;
-- it is written in the same transaction as the decision or the rights opening that causes it.

CREATE TYPE email_kind AS ENUM ('dossier-processed', 'planning-open');

CREATE TABLE email_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id   bigint NOT NULL REFERENCES dossiers,
    structure_id bigint NOT NULL REFERENCES structures,
    kind         email_kind NOT NULL,
    -- The decision a dossier-processed email tells of; the period a planning-open email opens.
    decision_id  bigint UNIQUE REFERENCES decisions,
    period_id    bigint REFERENCES periods,
    message_id   text NOT NULL UNIQUE,
    sender       text NOT NULL,
    recipient    text NOT NULL,
    subject      text NOT NULL,
    text_body    text NOT NULL,
    html_body    text NOT NULL,
    headers      jsonb NOT NULL,
    message      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    exported_at  timestamptz,
    CHECK ((kind = 'dossier-processed') = (decision_id IS NOT NULL)),
    CHECK ((kind = 'planning-open') = (period_id IS NOT NULL))
);
-- At most one planning-open email per dossier and period, however often rights are opened.
CREATE UNIQUE INDEX email_outbox_one_planning_open ON email_outbox (dossier_id, period_id)
    WHERE kind = 'planning-open';
CREATE INDEX email_outbox_pending ON email_outbox (id) WHERE exported_at IS NULL;
CREATE INDEX email_outbox_dossier ON email_outbox (dossier_id);
