import Dossiers
import Postgres

/// The SQL of an administrator's verdicts: the dossiers they lock, the session's actor and reason
/// that the event trigger records, and the rights a return takes back. Every method runs on the
/// caller's connection, inside the caller's transaction.
struct ReviewStore {
    let connection: Connection

    /// A dossier locked for a verdict.
    struct LockedDossier: Equatable {
        var id: Int64
        var externalID: String
        var state: DossierState
        var structure: String
    }

    /// Locks the dossier (`FOR UPDATE`) until the transaction ends; `nil` when there is none.
    func lockDossier(externalID: String) throws -> LockedDossier? {
        try connection.query(
            """
            SELECT d.id, d.external_id, d.state, s.code AS structure
            FROM dossiers d JOIN structures s ON s.id = d.structure_id
            WHERE d.external_id = $1 FOR UPDATE OF d
            """, [externalID]
        ).first.map { row in
            LockedDossier(
                id: try row.decode("id"), externalID: try row.decode("external_id"), state: try row.decode("state"),
                structure: try row.decode("structure"))
        }
    }

    /// Locks the structure's dossiers awaiting review, by id; `nil` when there is no such structure.
    func lockAwaitingReview(structure: String) throws -> [Int64]? {
        try connection.query(
            """
            SELECT s.id, ARRAY(SELECT d.id FROM dossiers d WHERE d.structure_id = s.id
                               AND d.state = 'awaiting_review' ORDER BY d.id FOR UPDATE) AS dossiers
            FROM structures s WHERE s.code = $1
            """, [structure]
        ).first?.decode("dossiers")
    }

    /// Who the event trigger records as moving the dossiers, and why, for this transaction only.
    func setEventContext(actor: String, reason: String) throws {
        try connection.query(
            "SELECT set_config('eticket.actor', $1, true), set_config('eticket.reason', $2, true)", [actor, reason])
    }

    /// Forgets the reason for the rest of the transaction: it explained the decision, not what follows it.
    func clearEventReason() throws {
        try connection.query("SELECT set_config('eticket.reason', '', true)")
    }

    struct RemovedRights: Equatable {
        var rights: Int
        var reservations: Int
        var queued: Int
    }

    /// Removes the reservation rights of these dossiers (their reservations go with them, 030) and
    /// their queued openings, before the dossiers go back to the family.
    func removeRights(_ dossierIDs: [Int64]) throws -> RemovedRights {
        let row = try connection.query(
            """
            WITH reserved AS (
                SELECT count(*) AS n FROM reservations x
                JOIN reservation_rights r USING (child_id, service_id, period_id)
                WHERE r.dossier_id = ANY($1::bigint[])
            ), removed AS (
                DELETE FROM child_period_rights WHERE dossier_id = ANY($1::bigint[]) RETURNING cardinality(service_ids) AS services
            ), dequeued AS (
                DELETE FROM dossier_queue WHERE dossier_id = ANY($1::bigint[]) AND job = 'open_rights' RETURNING id
            )
            -- Rights as `reservation_rights` counts them: one per child, service and period.
            SELECT (SELECT n FROM reserved) AS reservations, (SELECT coalesce(sum(services), 0) FROM removed) AS rights,
                   (SELECT count(*) FROM dequeued) AS queued
            """, [dossierIDs]
        ).first
        return RemovedRights(
            rights: try row?.decode("rights") ?? 0, reservations: try row?.decode("reservations") ?? 0,
            queued: try row?.decode("queued") ?? 0)
    }
}
