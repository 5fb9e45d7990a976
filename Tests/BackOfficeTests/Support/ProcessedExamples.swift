import BackOffice
import Foundation
import Postgres
import TestSupport
import Testing

extension Fixture {
    /// A fresh database with the example structures and the example dossiers imported and drained
    /// by a worker: VLF-0001 planning_open with rights (Zoé: cantine, mercredi; Noé: all three),
    /// VLF-0002 and VLF-0003 returned, PTL-0001 awaiting_review.
    static func processedExamplesDatabase() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "eticket_processed") { conninfo in
            try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
            let administration = try Administration(conninfo: conninfo, logger: logger)
            defer { administration.close() }
            try administration.migrate(directory: sql)
            _ = try administration.applyStructures(file: "\(examples)/structures.json")
            _ = try administration.importDossiers(file: "\(examples)/dossiers.jsonl")
            _ = try WorkerRunner(conninfo: conninfo, configuration: WorkerConfiguration(), outbox: nil, logger: logger)
                .drain()
        }
        return try storyDatabase(template: template)
    }

    /// Runs the worker until nothing is due.
    @discardableResult
    static func drain(_ conninfo: String) throws -> BatchSummary {
        try WorkerRunner(conninfo: conninfo, configuration: WorkerConfiguration(), outbox: nil, logger: logger).drain()
    }
}

extension Connection {
    /// Runs `sql` expecting PostgreSQL to refuse it, and returns the error for its SQLSTATE and message.
    func refusal(
        _ sql: String, _ parameters: [(any PostgresBindable)?] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> PostgresError {
        do {
            _ = try query(sql, parameters)
        } catch {
            return error
        }
        Issue.record("PostgreSQL accepted: \(sql)", sourceLocation: sourceLocation)
        throw PostgresError(code: .client, message: "accepted")
    }
}

extension Fixture {
    /// A fresh database with the example structures and the example dossiers imported, not yet
    /// processed: every example dossier is submitted and queued.
    static func submittedExamplesDatabase() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "eticket_submitted") { conninfo in
            try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
            let administration = try Administration(conninfo: conninfo, logger: logger)
            defer { administration.close() }
            try administration.migrate(directory: sql)
            _ = try administration.applyStructures(file: "\(examples)/structures.json")
            _ = try administration.importDossiers(file: "\(examples)/dossiers.jsonl")
        }
        return try storyDatabase(template: template)
    }
}
