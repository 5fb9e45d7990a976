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

    /// The Message-IDs the worker draws for its emails have the form the database's own have
    /// (`gen_random_uuid()` and the sender's domain): a version-4 uuid in lower case, `@`, what
    /// follows the sender's last `@`, and no two alike.
    @Test func theWorkersMessageIDsAreRandomUUIDsAtTheSendersDomain() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let emails = try connection.query("SELECT message_id, sender FROM email_outbox").map { row in
            (id: try row.decode(String.self, "message_id"), sender: try row.decode(String.self, "sender"))
        }
        #expect(emails.count == 4)
        for email in emails { #expect(Self.isMessageID(email.id, from: email.sender), "\(email.id)") }
        #expect(Set(emails.map(\.id)).count == emails.count)
    }

    /// And a validated dossier of a structure that opens its rights on schedule: its email gives
    /// the opening's time as the database writes it.
    @Test func oddNamesAndLabelsSurviveTheWorkersJSONAndKeepTheDatabasesOrder() throws {
        // Labels with quotes and backslashes, listed by label in an order that is neither their
        // codes' nor their ids' (the order rights keep their services in).
        let labels = ["cantine": "école du midi", "garderie-matin": #"Zumba "matin""#, "mercredi": "atelier \\ mercredi"]
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.applyStructures(
            file: try Self.structures { code, structure in
                if code == "saint-amour" { structure["review"] = "automatic" }
                var services = structure["services"] as? [[String: Any]] ?? []
                for index in services.indices {
                    if let label = labels[services[index]["code"] as? String ?? ""] { services[index]["label"] = label }
                }
                structure["services"] = services
            })
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

    /// Each way a validated dossier's email says when its children can reserve: the structure
    /// opens the rights itself, no period is left, and the earliest opening still to come among
    /// periods not over (one ended with an opening ahead, one under way whose opening has passed,
    /// two ahead whose openings come in the other order than their periods). A review's mutants of
    /// each branch passed every other test.
    @Test(arguments: ["manual", "ended", "scheduled"])
    func whenTheChildrenCanReserveIsWhatTheDatabaseWouldSay(_ variant: String) throws {
        let conninfo = try Self.decide([variant == "scheduled" ? "PTL-0001" : "VLF-0001"]) { code, structure in
            switch (variant, code) {
            case ("manual", "villefranche"): structure["rights_opening"] = "manual"
            case ("ended", "villefranche"):
                structure["periods"] = [
                    ["code": "2026-2027", "label": "old", "starts_on": "2025-09-01", "ends_on": "2026-07-03"]
                ]
            case ("scheduled", "saint-amour"):
                structure["review"] = "automatic"
                structure["periods"] = [
                    [
                        "code": "2026-ete", "label": "ended", "starts_on": "2026-07-01", "ends_on": "2026-08-31",
                        "planning_opens_at": "2027-01-01T00:00:00Z",
                    ],
                    [
                        "code": "2026-noel", "label": "open", "starts_on": "2026-12-21", "ends_on": "2027-01-02",
                        "planning_opens_at": "2026-11-01T00:00:00Z",
                    ],
                    [
                        "code": "2027-hiver", "label": "hiver", "starts_on": "2027-02-08", "ends_on": "2027-02-19",
                        "planning_opens_at": "2027-01-15T09:00:00+01:00",
                    ],
                    [
                        "code": "2027-printemps", "label": "printemps", "starts_on": "2027-04-10", "ends_on": "2027-04-25",
                        "planning_opens_at": "2027-01-10T09:00:00+01:00",
                    ],
                ]
            default: break
            }
        }
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect(try Self.compareEmails(on: connection)["dossier-processed"] == 1)
        let step = try connection.scalar(
            "SELECT particulars->>'next_step' FROM email_outbox WHERE kind = 'dossier-processed'", as: String.self)
        // 2027-01-10T09:00:00+01:00: printemps's opening, before hiver's.
        let expected = ["manual": "manual", "ended": "manual", "scheduled": "1799568000.000000"][variant]
        #expect(step == expected, "\(variant)")
    }

    /// Every class of character the writer treats apart reads back unchanged through PostgreSQL's
    /// `json` and `jsonb` input.
    @Test func postgresReadsBackEveryStringTheWorkerWrites() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        var values = (1..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        values += [
            "\u{7f}", "\u{80}\u{9f}", "\u{85}", "\u{2028}\u{2029}", "\u{feff}", "\u{fffe}\u{ffff}", "\u{10ffff}",
            "\"", "\\", "\\\"", "\\u0041", "/", "</script>", "\u{301}leading mark", "👩‍👩‍👧", "\u{d7ff}\u{e000}",
            String((1..<0x80).map { Character(UnicodeScalar(UInt8($0))) }),
        ]
        for value in values {
            let json = EmailParticulars(
                language: "fr", dossier: value, firstName: value, lastName: value,
                children: [.init(firstName: value, lastName: value, services: [.init(label: value, weekdays: [1], reserved: [])])]
            ).jsonText
            let read = try connection.scalar(
                "SELECT ($1::json ->> 'first_name') || '|' || ($1::json::jsonb #>> '{children,0,services,0,label}')", [json],
                as: String.self)
            #expect(read.map { Array($0.unicodeScalars) } == Array((value + "|" + value).unicodeScalars), "\(json)")
        }
    }

    /// An administrator's change to the structure, committed between the batch's read of it and
    /// its emails (here by hand, just before the emails' statement), fails the batch; written
    /// again, its emails say what the structure says now (migration 033).
    @Test(arguments: [
        "UPDATE services SET label = 'Cantine (renamed)' WHERE code = 'cantine' AND label <> 'Cantine (renamed)'",
        "UPDATE periods SET ends_on = '2027-07-04' WHERE code = '2026-2027' AND ends_on <> '2027-07-04'",
    ])
    func aStructureChangedDuringTheBatchIsWhatTheEmailsSay(change: String) throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.importDossiers(file: try Fixture.file([try #require(try Fixture.exampleLines()["VLF-0001"])]))
        let interleaving = Interleaving(
            outbox: try EmailOutbox(directory: Fixture.templates), conninfo: conninfo, change: change)
        let worker = Worker(configuration: WorkerConfiguration(), notifier: interleaving, logger: Fixture.logger)
        let connection = try Fixture.connection(conninfo, actor: "worker:test")
        defer { connection.close() }
        let summary = try #require(try worker.processBatch(on: connection))
        #expect(summary.outcomes[.validated] == 1 && summary.failed == 0 && summary.retried == 0)
        #expect(try Self.compareEmails(on: connection) == ["planning-open": 1, "dossier-processed": 1])
        if change.contains("Cantine (renamed)") {
            let labels = try connection.scalar(
                "SELECT particulars #>> '{children,0,services}' FROM email_outbox WHERE kind = 'planning-open'", as: String.self)
            #expect(labels?.contains("Cantine (renamed)") == true, "\(labels ?? "")")
        }
    }

    /// Commits `change` on a connection of its own before each batch's emails are written (as
    /// `structures apply` does, it writes nothing the second time).
    private struct Interleaving: FamilyNotifier {
        let outbox: EmailOutbox
        let conninfo: String
        let change: String

        func notify(openings: [DecisionStore.Opening], built: [FamilyEmailStore.BuiltEmail], on connection: Connection) throws {
            let other = try Fixture.connection(conninfo)
            defer { other.close() }
            try other.query(change)
            try outbox.notify(openings: openings, built: built, on: connection)
        }
    }

    /// Where the worker does not know everything the email says, the database writes it.
    @Test func theWorkerLeavesToTheDatabaseWhatItCannotKnow() throws {
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
        let dossier = try DossierContract.decode(line: Array(line.utf8)).get()
        let day = try #require(CalendarDate(iso: "2026-12-03"))
        let structure = StructureContext(
            id: 1, code: "villefranche", review: .automatic, rightsOpening: .onValidation, requiredDocumentKinds: [],
            documentLabels: [:], today: day, periods: [.init(id: 7, code: "2026-2027", startsOn: day, endsOn: day)],
            services: [.init(id: 3, label: "Cantine", weekdays: [1, 2, 4, 5])], catalog: .init(structures: [1], print: ""))
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

    /// `uuid@domain`: a random uuid (version 4, RFC 4122 variant) in lower case, one `@`, and what
    /// follows the sender's last `@`.
    private static func isMessageID(_ id: String, from sender: String) -> Bool {
        let parts = id.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let uuid = UUID(uuidString: String(parts[0])) else { return false }
        return parts[0] == uuid.uuidString.lowercased() && parts[0].dropFirst(14).first == "4"
            && "89ab".contains(parts[0].dropFirst(19).first ?? "x")
            && parts[1] == sender.split(separator: "@", omittingEmptySubsequences: false).last
    }

    /// Compares each email row with what the database's statement writes for the same decision or
    /// opening, and checks the worker wrote it: `json_build_object` puts a space on each side of a
    /// colon, the worker none.
    ///
    /// - Returns: how many rows were compared, by kind.
    private static func compareEmails(on connection: Connection) throws -> [String: Int] {
        var compared: [String: Int] = [:]
        for row in try connection.query(
            """
            SELECT kind::text AS kind, dossier_id, decision_id, period_id, particulars::text AS particulars,
                   message_id, sender, recipient
            FROM email_outbox
            """)
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
            // The database's emails (a preview's are) and the worker's have the same addresses and
            // Message-IDs of the same form: neither side's columns are crossed.
            let email = try #require(preview)
            #expect(email.sender == (try row.decode(String.self, "sender")))
            #expect(email.recipient == (try row.decode(String.self, "recipient")))
            #expect(Self.isMessageID(email.messageID, from: email.sender), "database: \(email.messageID)")
            #expect(Self.isMessageID(try row.decode("message_id"), from: email.sender), "worker: \(email.messageID)")
            guard case .particulars(let fromDatabase, _) = email.content else {
                Issue.record("a preview holds particulars")
                continue
            }
            // As jsonb, strings compared byte for byte (Swift's == takes NFC and NFD alike); a null
            // member (the database's `next_step` of a returned dossier) is an absent one.
            #expect(
                try connection.scalar(
                    "SELECT jsonb_strip_nulls($1::jsonb) = jsonb_strip_nulls($2::jsonb)", [stored, fromDatabase], as: Bool.self)
                    == true,
                "worker: \(stored)\ndatabase: \(fromDatabase)")
            compared[kind, default: 0] += 1
        }
        return compared
    }

    /// The example structures file, each structure (by code) edited by `edit`.
    private static func structures(_ edit: (String, inout [String: Any]) -> Void) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Fixture.examples)/structures.json"))
        var catalog = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var structures = try #require(catalog["structures"] as? [[String: Any]])
        for index in structures.indices { edit(structures[index]["code"] as? String ?? "", &structures[index]) }
        catalog["structures"] = structures
        return try Fixture.data(try JSONSerialization.data(withJSONObject: catalog), name: "structures.json")
    }

    /// Imports `dossiers` (external ids of the examples) on the structures `edit` made, and lets a
    /// worker decide them.
    private static func decide(_ dossiers: [String], structures edit: (String, inout [String: Any]) -> Void) throws -> String {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.applyStructures(file: try structures(edit))
        let lines = try Fixture.exampleLines()
        _ = try administration.importDossiers(file: try Fixture.file(dossiers.compactMap { lines[$0] }))
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger
        ).drain()
        return conninfo
    }
}

/// One particulars object as the worker writes it, byte for byte.
private enum JSONTextEscapes {
    static let sample = EmailParticulars(
        language: "fr", dossier: "a\"b\\c\u{1}\n", firstName: "é", lastName: "", children: []
    ).jsonText
}
