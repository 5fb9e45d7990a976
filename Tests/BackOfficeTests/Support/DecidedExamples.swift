import BackOffice
import Foundation
import Postgres
import TestSupport

extension Fixture {
    /// A fresh database with the example dossiers imported and decided by a worker:
    /// VLF-0001 planning_open (rights: Zoé cantine and mercredi, Noé all three services),
    /// VLF-0002 and VLF-0003 returned, PTL-0001 awaiting review. The queue is empty.
    /// Their emails (four, pending) are in the outbox; decisions are by `worker:test:1`. Built once
    /// per test process as a template.
    static func decidedExamples() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "eticket_decided") { conninfo in
            try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
            let administration = try Fixture.administration(conninfo)
            defer { administration.close() }
            try administration.migrate(directory: sql)
            _ = try administration.applyStructures(file: "\(examples)/structures.json")
            _ = try administration.importDossiers(file: "\(examples)/dossiers.jsonl")
            var configuration = WorkerConfiguration()
            configuration.identity = "worker:test:1"
            _ = try WorkerRunner(
                conninfo: conninfo, configuration: configuration, outbox: try EmailOutbox(directory: templates), logger: logger
            ).drain()
        }
        return try storyDatabase(template: template)
    }

    /// Parks a `process` queue row for the dossier as a worker that ran out of attempts would.
    static func park(_ externalID: String, error: String = "boom", on connection: Connection) throws {
        try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, attempts, last_error, failed_at, run_at)
            SELECT id, 5, $2, now(), now() - interval '1 minute' FROM dossiers WHERE external_id = $1
            """, [externalID, error])
    }

    /// Makes the database refuse `externalID`'s decision, as a real failure inside processing
    /// would: the worker must retry it and decide the rest of its batch.
    static func poison(_ externalID: String, on connection: Connection) throws {
        let dossier = try connection.scalar("SELECT id FROM dossiers WHERE external_id = $1", [externalID], as: Int64.self)
        guard let dossier else { throw BackOfficeError(.notFound, "no dossier \(externalID)") }
        try connection.execute(
            script: """
                CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'poisoned dossier'; END $$;
                CREATE TRIGGER poison BEFORE INSERT ON decisions FOR EACH ROW
                    WHEN (NEW.dossier_id = \(dossier))
                    EXECUTE FUNCTION poison();
                """)
    }
}
