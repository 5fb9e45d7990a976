import Foundation
import Postgres

/// The SQL of the retention of returned dossiers' personal data. Every method runs on the
/// caller's connection, inside the caller's transaction.
struct RetentionStore {
    let connection: Connection

    /// A returned dossier past its structure's retention, locked for the purge.
    struct Candidate: Equatable {
        var id: Int64
        var dossier: PurgedDossier
    }

    struct CandidatesParams {
        /// Only dossiers returned before this instant.
        var returnedBefore: Date
        /// Only this structure's dossiers, when given.
        var structure: String?
    }

    /// Locks (`FOR UPDATE`) the returned, unpurged dossiers kept longer than their structure's
    /// retention and returned before the given instant, oldest return first.
    func lockPurgeCandidates(_ params: CandidatesParams) throws -> [Candidate] {
        try connection.query(
            """
            SELECT d.id, d.external_id, s.code, s.timezone, r.returned_at
            FROM dossiers d
            JOIN structures s ON s.id = d.structure_id
            JOIN LATERAL (
                SELECT max(occurred_at) AS returned_at FROM dossier_events
                WHERE dossier_id = d.id AND to_state = 'returned'
            ) r ON true
            WHERE d.state = 'returned' AND d.purged_at IS NULL
              AND r.returned_at < $1 AND r.returned_at < now() - make_interval(days => s.retention_days)
              AND ($2::text IS NULL OR s.code = $2)
            ORDER BY r.returned_at
            FOR UPDATE OF d
            """, [params.returnedBefore, params.structure]
        ).map {
            Candidate(
                id: try $0.decode("id"),
                dossier: PurgedDossier(
                    dossier: try $0.decode("external_id"), structure: try $0.decode("code"),
                    returnedAt: try $0.decode("returned_at"), timeZone: try $0.decode("timezone")))
        }
    }

    /// The tables of personal data that a purge empties for a dossier.
    /// (A dossier's guardians, trusted persons and documents are its content's, migration 032.)
    static let personalTables = ["children", "email_outbox"]

    /// Removes the candidates' personal data and records each purge (by the session's actor):
    /// the parts tables, the submitted content and notes, and the account's names and address
    /// when no unpurged dossier uses it any more.
    func purge(_ candidates: [Candidate]) throws {
        let ids = candidates.map(\.id)
        try connection.query(
            """
            INSERT INTO purges (dossier_id, returned_at, purged_by)
            SELECT id, returned_at, current_setting('eticket.actor')
            FROM unnest($1::bigint[], $2::timestamptz[]) AS p(id, returned_at)
            """, [ids, candidates.map { $0.dossier.returnedAt.postgresText }])
        for table in Self.personalTables {
            try connection.query("DELETE FROM \(table) WHERE dossier_id = ANY($1::bigint[])", [ids])
        }
        try connection.query(
            "UPDATE dossier_records SET content = '{}', notes = NULL, purged_at = now() WHERE id = ANY($1::bigint[])", [ids])
        try connection.query(
            """
            UPDATE accounts a SET email = 'purged-' || a.id || '@invalid', first_name = '', last_name = '', notes = NULL
            WHERE a.id IN (SELECT account_id FROM dossiers WHERE id = ANY($1::bigint[]))
              AND NOT EXISTS (SELECT 1 FROM dossiers o WHERE o.account_id = a.id AND o.purged_at IS NULL)
            """, [ids])
    }

    /// - Returns: false when there is no structure `code`.
    func setRetention(structure code: String, days: Int) throws -> Bool {
        try connection.query("UPDATE structures SET retention_days = $2 WHERE code = $1", [code, days]).rowsAffected > 0
    }
}
