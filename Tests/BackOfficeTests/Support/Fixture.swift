import BackOffice
import Foundation
import Logging
import Postgres
import TestSupport

/// Test databases and files: one PostgreSQL per test process, a migrated template, a fresh
/// database per test.
enum Fixture {
    /// The checkout's root, found from this file.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sql = root.appendingPathComponent("sql").path
    static let templates = root.appendingPathComponent("config/templates").path
    static let examples = root.appendingPathComponent("config/examples").path

    /// Tests never bootstrap the logging system; their loggers drop everything.
    static let logger = Logger(label: "eticket-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A fresh database with the whole schema.
    static func migratedDatabase() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "eticket_migrated") { conninfo in
            let administration = try Administration(conninfo: conninfo, logger: logger)
            defer { administration.close() }
            try administration.migrate(directory: sql)
        }
        return try databases.create(template: template)
    }

    /// The instant the example data's story is told at, whatever day the tests run on: PTL-0001
    /// was submitted two days before, Villefranche's school year 2026-2027 is under way and
    /// saint-amour's planning opening (2027-01-15) is still to come. Databases holding the examples
    /// pin the back office's decision clock (`eticket.clock`) to it; a test moves the clock rather
    /// than waiting for a time to pass.
    static let storyInstant = "2026-12-03T12:00:00Z"
    static let storyDate = ISO8601DateFormatter().date(from: storyInstant) ?? Date(timeIntervalSince1970: 0)

    /// A fresh copy of `template` (which holds the examples) with the clock pinned to ``storyInstant``.
    static func storyDatabase(template: String) throws -> String {
        let conninfo = try TestDatabases.shared().create(template: template)
        try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
        return conninfo
    }

    /// Moves the decision clock of the database behind `conninfo` (for sessions opened afterwards).
    static func pinClock(_ conninfo: String, at instant: Date) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        try TestDatabases.pinDecisionClock(conninfo, at: formatter.string(from: instant))
    }

    static func pinClock(_ conninfo: String, at instant: String = storyInstant) throws {
        try TestDatabases.pinDecisionClock(conninfo, at: instant)
    }

    /// A fresh database with the example structures applied (no dossiers).
    static func exampleStructuresDatabase() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "eticket_structures") { conninfo in
            try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
            let administration = try Administration(conninfo: conninfo, logger: logger)
            defer { administration.close() }
            try administration.migrate(directory: sql)
            _ = try administration.applyStructures(file: "\(examples)/structures.json")
        }
        return try storyDatabase(template: template)
    }

    /// An administration session on `conninfo`, closed by the caller.
    static func administration(_ conninfo: String) throws -> Administration {
        try Administration(conninfo: conninfo, actor: "admin:test", logger: logger)
    }

    /// A plain connection that may change dossiers' states (it names an actor).
    static func connection(_ conninfo: String, actor: String = "admin:test") throws -> Connection {
        let connection = try Connection(conninfo)
        try connection.query("SELECT set_config('eticket.actor', $1, false)", [actor])
        return connection
    }

    /// Writes `lines` to a temporary file and returns its path.
    static func file(_ lines: [String], name: String = "dossiers.jsonl") throws -> String {
        try data(Data(lines.joined(separator: "\n").utf8), name: name)
    }

    static func data(_ data: Data, name: String) throws -> String {
        let directory = TestFiles.directory.appendingPathComponent("eticket-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The example dossiers file's lines, by external id.
    static func exampleLines() throws -> [String: String] {
        let text = try String(contentsOfFile: "\(examples)/dossiers.jsonl", encoding: .utf8)
        var lines: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let range = line.range(of: #""external_id": ""#) else { continue }
            let id = line[range.upperBound...].prefix { $0 != "\"" }
            lines[String(id)] = String(line)
        }
        return lines
    }
}

extension Connection {
    /// The single value of a one-row, one-column query, for assertions.
    func scalar<T: PostgresDecodable>(_ sql: String, _ parameters: [(any PostgresBindable)?] = [], as type: T.Type = T.self)
        throws -> T?
    {
        let result = try query(sql, parameters)
        guard let row = result.first, let column = result.columns.first else { return nil }
        return try row.decodeIfPresent(T.self, column)
    }
}
