import BackOffice
import Dossiers
import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

/// The planning-open particulars a worker builds for the rights it has just opened say what the
/// database's own statement (``FamilyEmailStore/openingParticulars``, which administrators'
/// openings and previews use) says of the same rights: one conformance check, run on the examples
/// and on names and labels chosen to break a hand-written JSON writer or a Swift-side sort.
@Suite("Particulars built by the worker")
struct WorkerBuiltParticularsTests {
    @Test func theExamplesPlanningOpenEmailsAreTheWorkersAndSayWhatTheDatabaseWould() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        #expect(try Self.compareOpenings(on: connection) == 1, "VLF-0001 opened its rights in 2026-2027")
    }

    @Test func oddNamesAndLabelsSurviveTheWorkersJSONAndKeepTheDatabasesOrder() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        // Labels with quotes and backslashes, listed by label in an order that is neither their
        // codes' nor their ids' (the order rights keep their services in).
        _ = try administration.applyStructures(
            file: try Self.structures(relabelling: [
                "cantine": "école du midi", "garderie-matin": #"Zumba "matin""#, "mercredi": "atelier \\ mercredi",
            ]))
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
            .replacingOccurrences(of: #""first_name": "Claire""#, with: #""first_name": "Cla\"ire\\ \u0007\t""#)
            .replacingOccurrences(of: #""first_name": "Zoé""#, with: #""first_name": "Zoe\u0301 👩‍👩‍👧 שלום""#)
            .replacingOccurrences(of: #""first_name": "Noé""#, with: #""first_name": "N\u001fo\u2028é""#)
        _ = try administration.importDossiers(file: try Fixture.file([line]))
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger
        ).drain()

        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect(try Self.compareOpenings(on: connection) == 1)
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

    /// Compares each planning-open row with what the database's statement writes for the same
    /// dossier and period, and checks the worker wrote it: `json_build_object` puts a space on each
    /// side of a colon, the worker none.
    ///
    /// - Returns: how many rows were compared.
    private static func compareOpenings(on connection: Connection) throws -> Int {
        let rows = try connection.query(
            "SELECT dossier_id, period_id, particulars::text AS particulars FROM email_outbox WHERE kind = 'planning-open'")
        for row in rows {
            let stored: String = try row.decode("particulars")
            #expect(!stored.contains("\" : "), "written by the worker: \(stored)")
            let opening = DecisionStore.Opening(
                dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"), children: 0)
            let preview = try #require(try FamilyEmailStore(connection: connection).preview(decision: nil, opening: opening))
            guard case .particulars(let fromDatabase, _) = preview.content else {
                Issue.record("a preview holds particulars")
                continue
            }
            #expect(
                try EmailParticulars(json: stored, email: 0) == (try EmailParticulars(json: fromDatabase, email: 0)),
                "worker: \(stored)\ndatabase: \(fromDatabase)")
        }
        return rows.count
    }

    /// The example structures file, with these services (by code) given new labels.
    private static func structures(relabelling labels: [String: String]) throws -> String {
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
