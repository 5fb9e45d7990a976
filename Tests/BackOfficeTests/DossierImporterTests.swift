import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

@Suite("Importing submitted dossiers")
struct DossierImporterTests {
    /// VLF-0001 (two children, a guardian, a trusted person, a document) under another external id.
    static func good(_ externalID: String) throws -> String {
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
        return line.replacingOccurrences(of: #""external_id": "VLF-0001""#, with: #""external_id": "\#(externalID)""#)
    }

    /// Rows stored for `externalID` in every table an import writes.
    static func storedRows(_ connection: Connection, _ externalID: String) throws -> Int {
        try connection.scalar(
            """
            SELECT (SELECT count(*) FROM dossiers d WHERE d.external_id = $1)
                 + (SELECT count(*) FROM children x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1)
                 + (SELECT count(*) FROM guardians x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1)
                 + (SELECT count(*) FROM trusted_persons x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1)
                 + (SELECT count(*) FROM documents x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1)
                 + (SELECT count(*) FROM dossier_queue x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1)
            """, [externalID], as: Int.self) ?? -1
    }

    /// What a good line stores: the dossier, 2 children, a guardian, a trusted person, a document, a queue row.
    static let rowsPerGoodLine = 7

    /// The rejects file's entries.
    static func rejects(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func theExampleFileIsImportedWhole() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let rejectsPath = TestFiles.directory.appendingPathComponent("rejects-\(UUID()).jsonl").path
        let report = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl", rejectsPath: rejectsPath)
        #expect(report.lines == 4)
        #expect(report.created == 4)
        #expect(report.resubmitted == 0)
        #expect(report.rejected.isEmpty) // the command exits 0
        #expect(!FileManager.default.fileExists(atPath: rejectsPath))

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar("SELECT count(*) FROM dossiers WHERE state = 'submitted' AND version = 1", as: Int.self) == 4)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue WHERE job = 'process'", as: Int.self) == 4)
        #expect(try connection.scalar("SELECT count(*) FROM children", as: Int.self) == 4)
        #expect(try connection.scalar("SELECT count(*) FROM documents", as: Int.self) == 4)
        // Each dossier was written as submitted by the import: one event each, from no state.
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM dossier_events WHERE from_state IS NULL AND to_state = 'submitted' AND actor = 'import'",
                as: Int.self) == 4)
        #expect(
            try connection.scalar(
                "SELECT services::text FROM children WHERE first_name = 'Zoé'", as: String.self) == "{cantine,mercredi}")
        #expect(try connection.scalar("SELECT services IS NULL FROM children WHERE first_name = 'Noé'", as: Bool.self) == true)
    }

    /// A bad line between two good ones, how to spell it, and what the reason must say.
    struct BadLine: Sendable, CustomStringConvertible {
        var description: String
        var bytes: @Sendable () throws -> [UInt8]
        var path: String
        var reason: String
    }

    static let badLines: [BadLine] = [
        BadLine(
            description: "not JSON", bytes: { Array(#"{"external_id": "BAD-1", "structure": "villefranche""#.utf8) },
            path: "$", reason: "not valid JSON"),
        BadLine(
            description: "a missing required field",
            bytes: { Array(try good("BAD-2").replacingOccurrences(of: #""confirmed": true, "#, with: "").utf8) },
            path: "$.confirmed", reason: "is required"),
        BadLine(
            description: "a wrong type",
            bytes: { Array(try good("BAD-3").replacingOccurrences(of: #""size": 182734"#, with: #""size": "182734""#).utf8) },
            path: "$.documents[0].size", reason: "expected integer, found string"),
        BadLine(
            description: "an unknown structure",
            bytes: {
                Array(
                    try good("BAD-4").replacingOccurrences(
                        of: #""structure": "villefranche""#, with: #""structure": "nowhere""#
                    ).utf8)
            },
            path: "$.structure", reason: "unknown structure \"nowhere\""),
        BadLine(
            description: "an impossible date",
            bytes: { Array(try good("BAD-5").replacingOccurrences(of: "2018-03-14", with: "2026-02-30").utf8) },
            path: "$.children[0].birth_date", reason: "is not a valid date"),
        BadLine(
            description: "invalid UTF-8",
            bytes: {
                let parts = try good("BAD-6").components(separatedBy: "Zoé")
                return Array(parts[0].utf8) + [0x5A, 0x6F, 0xC3] + Array(parts[1...].joined(separator: "Zoé").utf8)
            },
            path: "$", reason: "invalid UTF-8"),
        BadLine(
            description: "a 10 MB line",
            bytes: {
                let notes = String(repeating: "a", count: 10 << 20)
                return Array(
                    try good("BAD-7").replacingOccurrences(
                        of: #""confirmed": true"#, with: #""confirmed": true, "notes": "\#(notes)""#
                    )
                    .utf8)
            },
            path: "$.notes", reason: "longer than 4000 characters"),
        BadLine(description: "a blank line", bytes: { [] }, path: "$", reason: "empty line"),
        BadLine(description: "a line of spaces", bytes: { Array("  \t ".utf8) }, path: "$", reason: "empty line"),
        BadLine(
            description: "a NUL character",
            bytes: { Array(try good("BAD-8").replacingOccurrences(of: "Zoé", with: #"Zo\u0000é"#).utf8) },
            path: "$", reason: "NUL"),
    ]

    @Test(arguments: badLines)
    func aBadLineIsRefusedAloneWithItsReason(bad: BadLine) throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let badBytes = try bad.bytes()
        var data = Data(try Self.good("GOOD-1").utf8)
        data += Data("\n".utf8) + Data(badBytes) + Data("\n".utf8)
        data += Data(try Self.good("GOOD-2").utf8) + Data("\n".utf8)
        let file = try Fixture.data(data, name: "dossiers.jsonl")
        let rejectsPath = file + ".rejects"

        let report = try administration.importDossiers(file: file, rejectsPath: rejectsPath)
        #expect(report.lines == 3)
        #expect(report.created == 2)
        let rejected = try #require(report.rejected.first)
        #expect(report.rejected.count == 1)
        #expect(rejected.line == 2)
        #expect(rejected.input == badBytes)
        #expect(rejected.reasons.contains { $0.hasPrefix("\(bad.path): ") && $0.contains(bad.reason) }, "\(rejected.reasons)")

        let entries = try Self.rejects(rejectsPath)
        #expect(entries.count == 1)
        #expect(entries.first?["line"] as? Int == 2)
        #expect(entries.first?["reasons"] as? [String] == rejected.reasons)
        #expect(entries.first?["input"] as? String == String(decoding: badBytes, as: UTF8.self))

        let connection = try Connection(conninfo)
        defer { connection.close() }
        for id in ["BAD-1", "BAD-2", "BAD-3", "BAD-4", "BAD-5", "BAD-6", "BAD-7", "BAD-8"] {
            #expect(try Self.storedRows(connection, id) == 0)
        }
        #expect(try Self.storedRows(connection, "GOOD-1") == Self.rowsPerGoodLine)
        #expect(try Self.storedRows(connection, "GOOD-2") == Self.rowsPerGoodLine)
        #expect(try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self) == 2)
        #expect(try connection.scalar("SELECT count(*) FROM children", as: Int.self) == 4)
    }

    @Test func manyReasonsOnOneLineAreAllReported() throws {
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let line = try Self.good("BAD-9")
            .replacingOccurrences(of: "2018-03-14", with: "2026-02-30")
            .replacingOccurrences(of: "2021-11-02", with: "yesterday")
            .replacingOccurrences(of: #""confirmed": true, "#, with: "")
        let report = try administration.importDossiers(file: try Fixture.file([line]))
        #expect(report.created == 0)
        let reasons = try #require(report.rejected.first?.reasons)
        #expect(reasons.contains { $0.hasPrefix("$.children[0].birth_date: ") })
        #expect(reasons.contains { $0.hasPrefix("$.children[1].birth_date: ") })
        #expect(reasons.contains { $0.hasPrefix("$.confirmed: ") })
    }

    @Test(arguments: [[UInt8](), Array("\n".utf8)])
    func anEmptyFileIsBadInput(bytes: [UInt8]) throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Fixture.data(Data(bytes), name: "empty.jsonl")
        if bytes.isEmpty {
            let error = try #require(throws: BackOfficeError.self) { try administration.importDossiers(file: file) }
            #expect(error.code == .badInput)
            #expect(error.message == "\(file): empty file, no dossier to import")
        } else {
            // One blank line is a line, refused as such.
            let report = try administration.importDossiers(file: file)
            #expect(report.rejected.map(\.line) == [1])
        }
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self) == 0)
    }

    @Test func anEmptyFileLeavesNoRejectsFile() throws {
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let file = try Fixture.data(Data(), name: "empty.jsonl")
        let rejectsPath = file + ".rejects"
        let error = try #require(throws: BackOfficeError.self) {
            try administration.importDossiers(file: file, rejectsPath: rejectsPath)
        }
        #expect(error.code == .badInput)
        #expect(!FileManager.default.fileExists(atPath: rejectsPath))
    }

    @Test func aMissingFileIsBadInput() throws {
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let error = try #require(throws: BackOfficeError.self) {
            try administration.importDossiers(file: "/nonexistent/dossiers.jsonl")
        }
        #expect(error.code == .badInput)
        #expect(error.message == "/nonexistent/dossiers.jsonl: no such file")
    }

    @Test func crlfLineEndingsAreAccepted() throws {
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let file = try Fixture.data(Data((try Self.good("CR-1") + "\r\n" + Self.good("CR-2") + "\r\n").utf8), name: "crlf.jsonl")
        let report = try administration.importDossiers(file: file)
        #expect(report.created == 2)
        #expect(report.rejected.isEmpty)
    }

    // MARK: - Resubmission

    /// VLF-0002 with a payer who can be reached, and a second guardian.
    static func correctedVLF0002() throws -> String {
        let line = try #require(try Fixture.exampleLines()["VLF-0002"])
        return
            line
            .replacingOccurrences(
                of: #""payer": false"#,
                with:
                    #""address": {"line1": "4 place du Marché", "postal_code": "69400", "city": "Villefranche-sur-Saône"}, "payer": true"#
            )
            .replacingOccurrences(
                of: #""guardians": ["#,
                with:
                    #""guardians": [{"first_name": "Minh", "last_name": "Nguyễn", "payer": false, "emergency_contact": false}, "#)
    }

    @Test func aReturnedDossierSentAgainIsANewVersion() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let original = try #require(try Fixture.exampleLines()["VLF-0002"])
        #expect(try administration.importDossiers(file: try Fixture.file([original])).created == 1)
        #expect(try Fixture.drain(conninfo).claimed == 1)
        #expect(try administration.dossiers().first?.state == .returned)

        let report = try administration.importDossiers(file: try Fixture.file([try Self.correctedVLF0002()]))
        #expect(report.created == 0)
        #expect(report.resubmitted == 1)
        #expect(report.rejected.isEmpty)

        let connection = try Connection(conninfo)
        defer { connection.close() }
        let line = try #require(try administration.dossiers().first)
        #expect(line.state == .submitted)
        #expect(line.version == 2)
        #expect(line.queued)
        #expect(try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self) == 1)
        // The parts are replaced, not added to.
        #expect(
            try connection.scalar("SELECT string_agg(first_name, ',' ORDER BY position) FROM guardians", as: String.self)
                == "Minh,Kim")
        #expect(try connection.scalar("SELECT count(*) FROM children", as: Int.self) == 1)
        #expect(try connection.scalar("SELECT count(*) FROM documents", as: Int.self) == 1)
        #expect(
            try connection.scalar(
                """
                SELECT string_agg(coalesce(from_state::text, '-') || '>' || to_state || '@' || dossier_version, ','
                                  ORDER BY id)
                FROM dossier_events
                """, as: String.self) == "->submitted@1,submitted>returned@1,returned>submitted@2")

        #expect(try Fixture.drain(conninfo).claimed == 1)
        let decided = try #require(try administration.dossiers().first)
        #expect(decided.state == .planningOpen) // validated, and Villefranche opens rights on validation
        #expect(decided.findings == [])
        #expect(decided.rightsOpened == 3) // Léa asked for every service
        #expect(!decided.queued)
        #expect(
            try connection.scalar(
                "SELECT outcome::text FROM decisions WHERE dossier_version = 2", as: String.self) == "validated")
    }

    @Test func aReturnedDossierCannotMoveToAnotherStructure() throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let moved = try Self.correctedVLF0002().replacingOccurrences(
            of: #""structure": "villefranche""#, with: #""structure": "saint-amour""#)
        let report = try administration.importDossiers(file: try Fixture.file([moved]))
        #expect(report.resubmitted == 0)
        let rejected = try #require(report.rejected.first)
        #expect(rejected.reasons.count == 1)
        #expect(rejected.reasons.first?.hasPrefix("$.structure: ") == true)
        #expect(rejected.reasons.first?.contains("villefranche") == true, "\(rejected.reasons)")

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar(
                """
                SELECT s.code || ' ' || d.state::text || ' v' || d.version || ' ' || (a.structure_id = d.structure_id)::text
                FROM dossiers d JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
                WHERE d.external_id = 'VLF-0002'
                """, as: String.self) == "villefranche returned v1 true")
    }

    @Test(arguments: [("VLF-0001", "planning_open"), ("PTL-0001", "awaiting_review")])
    func aProcessedDossierCannotBeSentAgain(externalID: String, state: String) throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        try Self.expectResubmissionRefused(conninfo, externalID: externalID, state: state)
    }

    @Test func aSubmittedDossierCannotBeSentAgain() throws {
        try Self.expectResubmissionRefused(try Fixture.submittedExamplesDatabase(), externalID: "VLF-0003", state: "submitted")
    }

    static func expectResubmissionRefused(_ conninfo: String, externalID: String, state: String) throws {
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let line = try #require(try Fixture.exampleLines()[externalID])
        let report = try administration.importDossiers(file: try Fixture.file([try good("OTHER-1"), line]))
        #expect(report.created == 1)
        #expect(report.resubmitted == 0)
        let rejected = try #require(report.rejected.first)
        #expect(rejected.line == 2)
        #expect(rejected.externalID == externalID)
        #expect(
            rejected.reasons == [
                "$.external_id: dossier \(externalID) is \(state) and read-only; it can be sent again only after it has been returned"
            ])
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar(
                "SELECT state::text || ' v' || version FROM dossiers WHERE external_id = $1", [externalID], as: String.self)
                == "\(state) v1")
        #expect(try storedRows(connection, "OTHER-1") == rowsPerGoodLine)
    }

    @Test func theSameDossierTwiceInOneFileIsRefusedTheSecondTime() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let line = try Self.good("TWICE-1")
        let report = try administration.importDossiers(file: try Fixture.file([line, try Self.good("ONCE-1"), line]))
        #expect(report.created == 2)
        #expect(report.rejected.map(\.line) == [3])
        #expect(report.rejected.first?.reasons == ["$.external_id: TWICE-1 is already submitted at line 1 of this file"])
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try Self.storedRows(connection, "TWICE-1") == Self.rowsPerGoodLine)
    }

    // MARK: - Lines the database refuses

    @Test(arguments: [
        // The contract now bounds every list, so the database's refusal is played by a trigger
        // whose detail quotes the row, as a constraint's "Failing row contains" does.
        (
            "a child the database refuses", #""first_name": "Zoé""#, #""first_name": "Refused""#,
            "refused by the database"
        )
    ])
    func aLineTheDatabaseRefusesCostsNoOtherLine(problem: String, original: String, replacement: String, reason: String)
        throws
    {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try Fixture.connection(conninfo).execute(
            script: """
                CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.first_name = 'Refused' THEN
                        RAISE EXCEPTION 'refused by the database' USING DETAIL = 'Failing row contains (Refused, Martin)';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse BEFORE INSERT ON children FOR EACH ROW EXECUTE FUNCTION refuse();
                """)
        let importer = DossierImporter(connection: connection, logger: Fixture.logger, batchSize: 10)
        let crafted = try Self.good("DB-1").replacingOccurrences(of: original, with: replacement)
        try #require(crafted != (try Self.good("DB-1")))
        let file = try Fixture.file([try Self.good("DB-0"), crafted, try Self.good("DB-2")])
        let report = try importer.importFile(file)
        #expect(report.created == 2)
        let rejected = try #require(report.rejected.first)
        #expect(rejected.line == 2)
        #expect(rejected.externalID == "DB-1")
        #expect(rejected.reasons.count == 1)
        // The contract let it through: the reason is the database's, for the whole line.
        #expect(rejected.reasons.first?.hasPrefix("$: ") == true)
        #expect(rejected.reasons.first?.contains(reason) == true, "\(rejected.reasons)")
        // Not the detail: reasons are printed on stderr, and the detail quotes the family's row.
        #expect(rejected.reasons.first?.contains("Failing row") == false, "\(rejected.reasons)")
        #expect(try Self.storedRows(connection, "DB-1") == 0)
        #expect(try Self.storedRows(connection, "DB-0") == Self.rowsPerGoodLine)
        #expect(try Self.storedRows(connection, "DB-2") == Self.rowsPerGoodLine)
    }

    @Test func textSurvivesTheCopyIntact() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let line = try Self.good("TEXT-1")
            .replacingOccurrences(
                of: #""notes": "Allergie à l'arachide""#,
                with: #""notes": "tab\there\nnew line \\N back\\slash \"quoted\" \\.""#)
        let report = try administration.importDossiers(file: try Fixture.file([line]))
        #expect(report.rejected.isEmpty, "\(report.rejected)")
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar("SELECT notes FROM children WHERE position = 0", as: String.self)
                == "tab\there\nnew line \\N back\\slash \"quoted\" \\.")
        // Services are codes of the structure's own services (`[a-z0-9-]`), so no array element
        // can hold COPY's special characters: the import refuses any other value.
        #expect(
            try connection.scalar("SELECT array_to_json(services)::text FROM children WHERE position = 0", as: String.self)
                == #"["cantine","mercredi"]"#)
    }

    @Test func batchesStoredInParallelLoseAndDuplicateNothing() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connections = try (0..<2).map { _ in try Connection(conninfo) }
        defer { connections.forEach { $0.close() } }
        let importer = DossierImporter(connections: connections, logger: Fixture.logger, batchSize: 3)
        var lines = try (1...30).map { try Self.good("PAR-\($0)") }
        lines[7] = "{not json"
        lines[20] = try Self.good("PAR-21").replacingOccurrences(
            of: #""trusted_persons": ["#,
            with: #""trusted_persons": ["# + String(repeating: #"{"first_name": "A", "last_name": "B"}, "#, count: 32_768))
        var progress: [Int] = []
        let report = try importer.importFile(try Fixture.file(lines), onProgress: { progress.append($0) })
        #expect(report.lines == 30)
        #expect(report.created == 28)
        #expect(Set(report.rejected.map(\.line)) == [8, 21])
        #expect(progress == progress.sorted() && progress.last == 30, "\(progress)")
        for number in 1...30 where ![8, 21].contains(number) {
            #expect(try Self.storedRows(connections[0], "PAR-\(number)") == Self.rowsPerGoodLine, "PAR-\(number)")
        }
        #expect(try Self.storedRows(connections[0], "PAR-21") == 0)
        #expect(try connections[0].scalar("SELECT count(*) FROM dossier_queue", as: Int.self) == 28)
    }

    @Test func aBulkImportLeavesThePlannerFreshStatistics() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let lines = try (1...DossierImporter.analyzeAfter).map { try Self.good("BULK-\($0)") }
        let report = try DossierImporter(connection: connection, logger: Fixture.logger).importFile(try Fixture.file(lines))
        #expect(report.created == DossierImporter.analyzeAfter)
        // A table never analysed (nor vacuumed) has reltuples = -1.
        for table in ["dossier_records", "dossier_status", "children", "dossier_events", "dossier_queue"] {
            let estimate = try connection.scalar(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass", [table], as: Int.self)
            #expect((estimate ?? -1) >= DossierImporter.analyzeAfter, "\(table): \(estimate ?? -1)")
        }
    }

    @Test func batchesAreCommittedAsTheyGo() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let importer = DossierImporter(connection: connection, logger: Fixture.logger, batchSize: 2)
        var progress: [Int] = []
        let lines = try (1...5).map { try Self.good("BATCH-\($0)") }
        let report = try importer.importFile(try Fixture.file(lines), onProgress: { progress.append($0) })
        #expect(report.created == 5)
        #expect(progress == [2, 4, 5])
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue", as: Int.self) == 5)
    }
}
