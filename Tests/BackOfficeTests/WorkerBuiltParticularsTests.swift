import BackOffice
import Dossiers
import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

/// The particulars a worker builds for the decisions it has just recorded and the rights it has
/// just opened say what the database's own statements (``FamilyEmailStore/decisionParticulars``
/// and ``FamilyEmailStore/openingParticulars``, which administrators' decisions, openings and
/// previews use) say of them: one conformance check, run on the examples and on names and labels
/// chosen to break a hand-written JSON writer or a Swift-side sort.
@Suite("Particulars built by the worker")
struct WorkerBuiltParticularsTests {
    @Test func theExamplesEmailsAreTheWorkersAndSayWhatTheDatabaseWould() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        #expect(
            try Self.compareEmails(on: connection) == ["planning-open": 1, "dossier-processed": 3],
            "VLF-0001 validated and opened its rights in 2026-2027, VLF-0002 and VLF-0003 returned")
    }

    /// And a validated dossier of a structure that opens its rights on schedule: its email gives
    /// the opening's time as the database writes it.
    @Test func oddNamesAndLabelsSurviveTheWorkersJSONAndKeepTheDatabasesOrder() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        // Labels with quotes and backslashes, listed by label in an order that is neither their
        // codes' nor their ids' (the order rights keep their services in).
        _ = try administration.applyStructures(
            file: try Self.structures(
                reviewing: "saint-amour",
                relabelling: [
                    "cantine": "école du midi", "garderie-matin": #"Zumba "matin""#, "mercredi": "atelier \\ mercredi",
                ]))
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
            .replacingOccurrences(of: #""first_name": "Claire""#, with: #""first_name": "Cla\"ire\\ \u0007\t""#)
            .replacingOccurrences(of: #""first_name": "Zoé""#, with: #""first_name": "Zoe\u0301 👩‍👩‍👧 שלום""#)
            .replacingOccurrences(of: #""first_name": "Noé""#, with: #""first_name": "N\u001fo\u2028é""#)
        let scheduled = try #require(try Fixture.exampleLines()["PTL-0001"])
        _ = try administration.importDossiers(file: try Fixture.file([line, scheduled]))
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger
        ).drain()

        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect(try Self.compareEmails(on: connection) == ["planning-open": 1, "dossier-processed": 2])
        let nextSteps = try connection.query(
            "SELECT particulars->>'next_step' AS step FROM email_outbox WHERE kind = 'dossier-processed' ORDER BY dossier_id"
        ).map { try $0.decode(String.self, "step") }
        #expect(nextSteps.first == "now" && nextSteps.last.flatMap(Double.init) != nil, "\(nextSteps): on validation, scheduled")
        let stored = try #require(
            try connection.scalar("SELECT particulars::text FROM email_outbox WHERE kind = 'planning-open'", as: String.self))
        let particulars = try EmailParticulars(json: stored, email: 0)
        #expect(particulars.firstName == "Cla\"ire\\ \u{7}\t")
        #expect(particulars.children.map(\.firstName) == ["Zoe\u{301} 👩‍👩‍👧 שלום", "N\u{1f}o\u{2028}é"])
        #expect(particulars.children.first?.services?.map(\.label) == ["atelier \\ mercredi", "école du midi"])
    }

    /// Where the worker does not know everything the email says, the database writes it.
    @Test func theWorkerLeavesToTheDatabaseWhatItCannotKnow() throws {
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
        let dossier = try DossierContract.decode(line: Array(line.utf8)).get()
        let day = try #require(CalendarDate(iso: "2026-12-03"))
        let structure = StructureContext(
            id: 1, code: "villefranche", review: .automatic, rightsOpening: .onValidation, requiredDocumentKinds: [],
            documentLabels: [:], today: day, periods: [.init(id: 7, code: "2026-2027", startsOn: day, endsOn: day)],
            services: [.init(id: 3, label: "Cantine", weekdays: [1, 2, 4, 5])])
        func rights(period: Int64 = 7, position: Int = 0, services: [Int64] = [3], first: Bool = true)
            -> DecisionStore.OpenedChildRights
        {
            .init(dossierID: 1, periodID: period, childPosition: position, serviceIDs: services, first: first)
        }
        #expect(EmailParticulars(firstOpening: [rights()], of: dossier, in: structure) != nil)
        for (refused, why) in [
            (rights(first: false), "rights the dossier had before: days may be reserved"),
            (rights(period: 8), "a period the worker did not read"), (rights(position: 2), "a child not in the content"),
            (rights(services: [3, 4]), "a service the worker did not read"),
        ] {
            #expect(EmailParticulars(firstOpening: [refused], of: dossier, in: structure) == nil, "\(why)")
        }
    }

    @Test func theWorkersJSONEscapesWhatJSONRequiresAndNothingElse() throws {
        let names = ["plain", "quote \" and \\ backslash", "\u{0}\u{1}\u{1f}\n\r\t", "é 👩‍👩‍👧 \u{2028} \u{7f}", ""]
        for name in names {
            let particulars = EmailParticulars(
                language: "fr", dossier: name, firstName: name, lastName: name,
                children: [.init(firstName: name, lastName: name, services: [.init(label: name, weekdays: [1], reserved: [])])],
                shownFrom: "2026-12-03")
            let json = particulars.jsonText
            #expect(try EmailParticulars(json: json, email: 0) == particulars, "\(json)")
            #expect(!json.unicodeScalars.contains { $0.value < 0x20 }, "no raw control character: \(json)")
        }
        #expect(
            JSONTextEscapes.sample
                == #"{"language":"fr","dossier":"a\"b\\c\u0001\n","first_name":"é","last_name":"","children":[]}"#)
    }

    /// Compares each email row with what the database's statement writes for the same decision or
    /// opening, and checks the worker wrote it: `json_build_object` puts a space on each side of a
    /// colon, the worker none.
    ///
    /// - Returns: how many rows were compared, by kind.
    private static func compareEmails(on connection: Connection) throws -> [String: Int] {
        var compared: [String: Int] = [:]
        for row in try connection.query(
            "SELECT kind::text AS kind, dossier_id, decision_id, period_id, particulars::text AS particulars FROM email_outbox")
        {
            let stored: String = try row.decode("particulars")
            let kind: String = try row.decode("kind")
            #expect(!stored.contains("\" : "), "written by the worker: \(stored)")
            let store = FamilyEmailStore(connection: connection)
            let preview =
                kind == "planning-open"
                ? try store.preview(
                    decision: nil,
                    opening: .init(dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"), children: 0))
                : try store.preview(decision: try row.decode("decision_id"), opening: nil)
            guard case .particulars(let fromDatabase, _) = try #require(preview).content else {
                Issue.record("a preview holds particulars")
                continue
            }
            #expect(
                try EmailParticulars(json: stored, email: 0) == (try EmailParticulars(json: fromDatabase, email: 0)),
                "worker: \(stored)\ndatabase: \(fromDatabase)")
            compared[kind, default: 0] += 1
        }
        return compared
    }

    /// The example structures file, with a structure's dossiers validated without review and these
    /// services (by code) given new labels.
    private static func structures(reviewing automatic: String, relabelling labels: [String: String]) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Fixture.examples)/structures.json"))
        var catalog = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var structures = try #require(catalog["structures"] as? [[String: Any]])
        for index in structures.indices {
            var services = structures[index]["services"] as? [[String: Any]] ?? []
            for service in services.indices {
                if let code = services[service]["code"] as? String, let label = labels[code] {
                    services[service]["label"] = label
                }
            }
            structures[index]["services"] = services
            if structures[index]["code"] as? String == automatic { structures[index]["review"] = "automatic" }
        }
        catalog["structures"] = structures
        return try Fixture.data(try JSONSerialization.data(withJSONObject: catalog), name: "structures.json")
    }
}

/// One particulars object as the worker writes it, byte for byte.
private enum JSONTextEscapes {
    static let sample = EmailParticulars(
        language: "fr", dossier: "a\"b\\c\u{1}\n", firstName: "é", lastName: "", children: []
    ).jsonText
}
