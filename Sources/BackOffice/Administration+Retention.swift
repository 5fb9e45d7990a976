import Foundation
import Postgres

/// A dossier whose personal data a purge removes (or would remove, in a dry run).
public struct PurgedDossier: Sendable, Equatable, Codable {
    public var dossier: String
    public var structure: String
    public var returnedAt: Date
    /// The structure's IANA time zone, in which an administrator reads `returnedAt`.
    public var timeZone: String
}

extension Administration {
    /// Removes families' personal data from dossiers returned before `before` and kept longer than
    /// their structure's retention period: children, guardians, trusted persons, documents, notes,
    /// the submitted content, the emails, and the account's names and address when no other dossier
    /// uses it. Decisions, events and a `purges` row remain, so the purge itself is on record.
    ///
    /// - Parameter dryRun: list what would be purged and change nothing.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func purge(returnedBefore before: Date, structure: String? = nil, dryRun: Bool) throws -> [PurgedDossier] {
        try requireStructure(structure)
        return try database("cannot purge the returned dossiers") {
            try connection.transaction { connection in
                let candidates = try connection.query(
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
                    """, [before, structure])
                let ids: [Int64] = try candidates.map { try $0.decode("id") }
                let purged = try candidates.map {
                    PurgedDossier(
                        dossier: try $0.decode("external_id"), structure: try $0.decode("code"),
                        returnedAt: try $0.decode("returned_at"), timeZone: try $0.decode("timezone"))
                }
                guard !dryRun, !ids.isEmpty else { return purged }
                try connection.query(
                    """
                    INSERT INTO purges (dossier_id, returned_at, purged_by)
                    SELECT id, returned_at, current_setting('eticket.actor')
                    FROM unnest($1::bigint[], $2::timestamptz[]) AS p(id, returned_at)
                    """, [ids, purged.map { $0.returnedAt.postgresText }])
                for table in ["children", "guardians", "trusted_persons", "documents", "email_outbox"] {
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
                return purged
            }
        }
    }

    /// Sets how long a structure keeps a returned dossier's personal data.
    public func setRetention(structure code: String, days: Int) throws {
        try database("cannot set the retention of \(code)") {
            guard (0...36_500).contains(days) else {
                throw BackOfficeError(.badInput, "retention: days must be 0 to 36500 (a hundred years), not \(days)")
            }
            let updated = try connection.query("UPDATE structures SET retention_days = $2 WHERE code = $1", [code, days])
            if updated.rowsAffected == 0 { throw BackOfficeError(.notFound, "no structure \(code)") }
        }
    }
}
