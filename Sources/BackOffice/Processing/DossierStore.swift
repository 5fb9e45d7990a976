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
    /// The SHA-256, in hex, of the content as judged (the text the worker decoded), which the
    /// decision records.
    var contentSHA256: String
}

/// What processing needs to know of a structure, read once per batch.
struct StructureContext {
    struct PeriodRow {
        var id: Int64
        var code: String
        var startsOn: CalendarDate
        var endsOn: CalendarDate
        /// `planning_opens_at` in epoch seconds, as the database writes them (`nil` when not set).
        var opensAt: String? = nil
        /// Whether `planning_opens_at` is after the decision clock's now.
        var opensLater = false
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
    /// The services, in the order the emails list them: by label, then code, as the database sorts.
    var services: [ServiceRow]
    /// The print of the structures read with this one (``DossierStore/catalogPrint(of:)``), which
    /// the emails' statement checks is still theirs.
    var catalog: CatalogPrint

    struct ServiceRow {
        var id: Int64
        var label: String
        var weekdays: [Int]
    }

    /// The rules take ages at the start of the next period (or today, when none is to come).
    var policy: StructurePolicy {
        let next = periods.filter { $0.endsOn >= today }.map(\.startsOn).min()
        return StructurePolicy(
            review: review, requiredDocumentKinds: requiredDocumentKinds, ageReferenceDate: next ?? today,
            documentLabels: documentLabels)
    }
}

/// Which structures a batch read, and the print of their rows as it read them
/// (``DossierStore/catalogPrint(of:)``).
struct CatalogPrint: Hashable {
    var structures: [Int64]
    var print: String
}

/// Reads what a batch needs, in a few set-based queries.
struct DossierStore {
    let connection: Connection

    /// The dossiers with these ids, decoded from the content the family submitted.
    ///
    /// The import split that content into the parts tables, and the read-only trigger keeps the two
    /// from drifting; judging the content itself is one query, and it is what the decision's hash
    /// covers: the hash is taken here, of the very text decoded (libcrypto's, in the worker, where
    /// PostgreSQL's had cost its server 3 µs a dossier).
    func load(_ ids: [Int64]) throws -> [LoadedDossier] {
        try connection.query(
            """
            SELECT d.id, d.version, d.state::text AS state, d.structure_id, d.content::text AS content
            FROM dossiers d WHERE d.id = ANY($1::bigint[])
            """, [ids.postgresBinary]
        ).map { row in
            let id: Int64 = try row.decode("id")
            let content = Array(try row.decode(String.self, "content").utf8)
            guard let state = DossierState(rawValue: try row.decode("state")) else {
                throw BackOfficeError(.failure, "dossier \(id): unknown state")
            }
            switch DossierContract.decode(line: content) {
            case .success(let dossier):
                return LoadedDossier(
                    id: id, version: try row.decode("version"), state: state,
                    structureID: try row.decode("structure_id"), dossier: dossier, contentSHA256: SHA256.hex(content))
            case .failure(let error):
                throw BackOfficeError(
                    .failure,
                    "dossier \(id): stored content no longer matches the contract: \(error.reasons.joined(separator: "; "))")
            }
        }
    }

    /// The print of the structures `ids` (an SQL array), their services and their periods: each
    /// row's id and the transaction that wrote it last (`xmin`), which any change, insert or delete
    /// alters (an update that writes the same values too). A worker builds its emails from the
    /// structures it read, and the emails' statement checks that their print is still the one read
    /// with them (``FamilyEmailStore/insert(decisions:openings:built:templates:)``). A plain
    /// expression, so that neither statement calls a function for it.
    static func catalogPrint(of ids: String) -> String {
        """
        concat_ws('/',
            (SELECT string_agg(s.id || ':' || s.xmin, ',' ORDER BY s.id) FROM structures s WHERE s.id = ANY (\(ids))),
            (SELECT string_agg(v.id || ':' || v.xmin, ',' ORDER BY v.id) FROM services v WHERE v.structure_id = ANY (\(ids))),
            (SELECT string_agg(p.id || ':' || p.xmin, ',' ORDER BY p.id) FROM periods p WHERE p.structure_id = ANY (\(ids))))
        """
    }

    /// The structures with these ids, with their document kinds and periods, in one query.
    func structures(_ ids: Set<Int64>) throws -> [Int64: StructureContext] {
        var contexts: [Int64: StructureContext] = [:]
        let structureIDs = ids.sorted()
        for row in try connection.query(
            """
            SELECT s.id, s.code, s.review::text AS review, s.rights_opening::text AS rights_opening,
                   (\(Self.catalogPrint(of: "$1::bigint[]"))) AS catalog_print,
                   to_char(\(DecisionClock.now) AT TIME ZONE s.timezone, 'YYYY-MM-DD') AS today,
                   ARRAY(SELECT k.kind FROM document_kinds k WHERE k.structure_id = s.id ORDER BY k.kind) AS kinds,
                   ARRAY(SELECT k.label FROM document_kinds k WHERE k.structure_id = s.id ORDER BY k.kind) AS kind_labels,
                   ARRAY(SELECT k.kind FROM document_kinds k WHERE k.structure_id = s.id AND k.required) AS required_kinds,
                   ARRAY(SELECT p.id FROM periods p WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id) AS period_ids,
                   ARRAY(SELECT p.code FROM periods p WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id) AS period_codes,
                   ARRAY(SELECT p.starts_on::text FROM periods p WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id)
                       AS period_starts,
                   ARRAY(SELECT p.ends_on::text FROM periods p WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id)
                       AS period_ends,
                   ARRAY(SELECT coalesce(extract(epoch FROM p.planning_opens_at)::text, '') FROM periods p
                         WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id) AS period_opens,
                   ARRAY(SELECT coalesce(p.planning_opens_at > \(DecisionClock.now), false) FROM periods p
                         WHERE p.structure_id = s.id ORDER BY p.starts_on, p.id) AS period_opens_later,
                   ARRAY(SELECT v.id FROM services v WHERE v.structure_id = s.id ORDER BY v.label, v.code) AS service_ids,
                   ARRAY(SELECT v.label FROM services v WHERE v.structure_id = s.id ORDER BY v.label, v.code)
                       AS service_labels,
                   ARRAY(SELECT array_to_string(v.weekdays, ',') FROM services v WHERE v.structure_id = s.id
                         ORDER BY v.label, v.code) AS service_weekdays
            FROM structures s WHERE s.id = ANY($1::bigint[])
            """, [structureIDs])
        {
            let id: Int64 = try row.decode("id")
            guard let review = ReviewMode(rawValue: try row.decode("review")),
                let opening = RightsOpening(rawValue: try row.decode("rights_opening")),
                let today = CalendarDate(iso: try row.decode(String.self, "today"))
            else { throw BackOfficeError(.failure, "structure \(id): unreadable policy") }
            let periods = try Self.periods(of: row)
            let services = zip(
                try row.decode([Int64].self, "service_ids"),
                zip(try row.decode([String].self, "service_labels"), try row.decode([String].self, "service_weekdays"))
            ).map { id, described in
                StructureContext.ServiceRow(
                    id: id, label: described.0, weekdays: described.1.split(separator: ",").compactMap { Int($0) })
            }
            contexts[id] = StructureContext(
                id: id, code: try row.decode("code"), review: review, rightsOpening: opening,
                requiredDocumentKinds: Set(try row.decode([String].self, "required_kinds")),
                documentLabels: Dictionary(
                    zip(try row.decode([String].self, "kinds"), try row.decode([String].self, "kind_labels")),
                    uniquingKeysWith: { first, _ in first }),
                today: today, periods: periods, services: services,
                catalog: CatalogPrint(structures: structureIDs, print: try row.decode("catalog_print")))
        }
        return contexts
    }

    /// A structure row's periods, from its `period_*` arrays (one order, one length).
    private static func periods(of row: Row) throws -> [StructureContext.PeriodRow] {
        let ids: [Int64] = try row.decode("period_ids")
        let (codes, starts, ends): ([String], [String], [String]) = (
            try row.decode("period_codes"), try row.decode("period_starts"), try row.decode("period_ends")
        )
        let (opens, later): ([String], [Bool]) = (try row.decode("period_opens"), try row.decode("period_opens_later"))
        guard Set([codes.count, starts.count, ends.count, opens.count, later.count]) == [ids.count] else {
            throw BackOfficeError(.failure, "structure periods: arrays of different lengths")
        }
        return ids.indices.compactMap { index in
            guard let startsOn = CalendarDate(iso: starts[index]), let endsOn = CalendarDate(iso: ends[index]) else {
                return nil
            }
            return .init(
                id: ids[index], code: codes[index], startsOn: startsOn, endsOn: endsOn,
                opensAt: opens[index].isEmpty ? nil : opens[index], opensLater: later[index])
        }
    }
}
