import Dossiers
import Foundation
import Postgres

/// A dossier as the worker judges it: the submitted content, and where it stands.
struct LoadedDossier {
    var id: Int64
    var version: Int
    var state: DossierState
    var structureID: Int64
    var dossier: Dossier
}

/// What processing needs to know of a structure, read once per batch.
struct StructureContext {
    struct PeriodRow {
        var id: Int64
        var code: String
        var startsOn: CalendarDate
        var endsOn: CalendarDate
    }

    var id: Int64
    var code: String
    var review: ReviewMode
    var rightsOpening: RightsOpening
    var requiredDocumentKinds: Set<String>
    /// Every document kind's label, so that a finding names a missing document as the family knows it.
    var documentLabels: [String: String]
    /// The structure's date today, in its own time zone.
    var today: CalendarDate
    var periods: [PeriodRow]

    /// The rules take ages at the start of the next period (or today, when none is to come).
    var policy: StructurePolicy {
        let next = periods.filter { $0.endsOn >= today }.map(\.startsOn).min()
        return StructurePolicy(
            review: review, requiredDocumentKinds: requiredDocumentKinds, ageReferenceDate: next ?? today,
            documentLabels: documentLabels)
    }
}

/// Reads what a batch needs, in a few set-based queries.
struct DossierStore {
    let connection: Connection

    /// The dossiers with these ids, decoded from the content the family submitted.
    ///
    /// The import split that content into the parts tables, and the read-only trigger keeps the two
    /// from drifting; judging the content itself is one query, and it is what the decision's hash covers.
    func load(_ ids: [Int64]) throws -> [LoadedDossier] {
        try connection.query(
            """
            SELECT id, version, state::text AS state, structure_id, content::text AS content
            FROM dossiers WHERE id = ANY($1::bigint[])
            """, [ids]
        ).map { row in
            let id: Int64 = try row.decode("id")
            let content: String = try row.decode("content")
            guard let state = DossierState(rawValue: try row.decode("state")) else {
                throw BackOfficeError(.failure, "dossier \(id): unknown state")
            }
            switch DossierContract.decode(line: Array(content.utf8)) {
            case .success(let dossier):
                return LoadedDossier(
                    id: id, version: try row.decode("version"), state: state,
                    structureID: try row.decode("structure_id"), dossier: dossier)
            case .failure(let error):
                throw BackOfficeError(
                    .failure, "dossier \(id): stored content no longer matches the contract: \(error.reasons.joined(separator: "; "))")
            }
        }
    }

    /// The structures with these ids, with their required documents and periods.
    func structures(_ ids: Set<Int64>) throws -> [Int64: StructureContext] {
        let idList = Array(ids)
        var contexts: [Int64: StructureContext] = [:]
        for row in try connection.query(
            """
            SELECT id, code, review::text AS review, rights_opening::text AS rights_opening,
                   to_char(\(DecisionClock.now) AT TIME ZONE timezone, 'YYYY-MM-DD') AS today
            FROM structures WHERE id = ANY($1::bigint[])
            """, [idList])
        {
            let id: Int64 = try row.decode("id")
            guard let review = ReviewMode(rawValue: try row.decode("review")),
                let opening = RightsOpening(rawValue: try row.decode("rights_opening")),
                let today = CalendarDate(iso: try row.decode(String.self, "today"))
            else { throw BackOfficeError(.failure, "structure \(id): unreadable policy") }
            contexts[id] = StructureContext(
                id: id, code: try row.decode("code"), review: review, rightsOpening: opening,
                requiredDocumentKinds: [], documentLabels: [:], today: today, periods: [])
        }
        for row in try connection.query(
            "SELECT structure_id, kind, label, required FROM document_kinds WHERE structure_id = ANY($1::bigint[])", [idList])
        {
            let structureID: Int64 = try row.decode("structure_id")
            let kind: String = try row.decode("kind")
            contexts[structureID]?.documentLabels[kind] = try row.decode("label")
            if try row.decode(Bool.self, "required") { contexts[structureID]?.requiredDocumentKinds.insert(kind) }
        }
        for row in try connection.query(
            """
            SELECT id, structure_id, code, starts_on::text AS starts_on, ends_on::text AS ends_on
            FROM periods WHERE structure_id = ANY($1::bigint[]) ORDER BY starts_on
            """, [idList])
        {
            guard let startsOn = CalendarDate(iso: try row.decode(String.self, "starts_on")),
                let endsOn = CalendarDate(iso: try row.decode(String.self, "ends_on"))
            else { continue }
            contexts[try row.decode("structure_id")]?.periods.append(
                .init(id: try row.decode("id"), code: try row.decode("code"), startsOn: startsOn, endsOn: endsOn))
        }
        return contexts
    }
}
