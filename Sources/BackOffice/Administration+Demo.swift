import Foundation
import Postgres

extension Administration {
    /// What the demo's example files hold: the only data it accepts to find in a database.
    public struct DemoExamples: Sendable {
        public var structureCodes: [String]
        public var dossierIDs: [String]

        /// Reads the codes and external ids of `structures.json` and `dossiers.jsonl` in `directory`.
        public init(directory: String) throws {
            func json(_ data: Data) -> [String: Any]? { try? JSONSerialization.jsonObject(with: data) as? [String: Any] }
            let structures = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/structures.json"))
            structureCodes = ((json(structures)?["structures"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String }
            let lines = try String(contentsOfFile: "\(directory)/dossiers.jsonl", encoding: .utf8).split(separator: "\n")
            dossierIDs = lines.compactMap { json(Data($0.utf8))?["external_id"] as? String }
        }
    }

    /// The instant the examples' fixed dates tell their story at: PTL-0001 submitted two days
    /// before, Villefranche's school year 2026-2027 under way, saint-amour's planning opening
    /// (2027-01-15) still to come. The demo's database decides as on that day, whatever day it runs.
    public static let demoStoryInstant = "2026-12-03T12:00:00Z"

    /// Pins the database's decision clock (`eticket.clock`, see `DecisionClock`) to `instant`, for
    /// every later session: the demo's database, never a real one. Sessions already open keep
    /// the clock they started with.
    public func pinDecisionClock(at instant: String) throws {
        try database("cannot pin the decision clock to \(instant)") {
            try connection.setDatabaseDefault("eticket.clock", to: instant)
        }
    }

    /// Makes sure the database is the demo's to fill: empty (then it is marked as the demo's), or
    /// marked by an earlier demo and holding nothing but the examples.
    ///
    /// The demo writes example families, queues and exports their emails: it must never do that
    /// in a database with real families in it, nor in one freshly migrated for production.
    ///
    /// - Throws: ``BackOfficeError`` `.refused`, naming what the database holds.
    public func claimForDemo(_ examples: DemoExamples) throws {
        try database("cannot check the demo's database") {
            try connection.transaction { connection in
                try connection.query("SELECT pg_advisory_xact_lock(hashtext('eticket demo'))")
                let tables = try connection.query(
                    """
                    SELECT count(*) AS tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
                    """
                ).first?.decode(Int64.self, "tables") ?? 0
                if tables == 0 {
                    try connection.execute(
                        script: "CREATE TABLE eticket_demo (claimed_at timestamptz NOT NULL DEFAULT now()); INSERT INTO eticket_demo DEFAULT VALUES")
                    return
                }
                guard try connection.query("SELECT to_regclass('public.eticket_demo') IS NOT NULL AS marked").first?.decode(Bool.self, "marked") == true
                else {
                    throw BackOfficeError(
                        .refused,
                        "this database holds \(tables) tables and was not made by the demo: the demo runs only on an empty database or one it made")
                }
                try refuseOtherThanExamples(examples, on: connection)
            }
        }
    }

    private func refuseOtherThanExamples(_ examples: DemoExamples, on connection: Connection) throws {
        let checks: [(table: String, column: String, allowed: [String])] = [
            ("structures", "code", examples.structureCodes), ("dossiers", "external_id", examples.dossierIDs),
        ]
        for check in checks {
            guard try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", ["public.\(check.table)"]).first?
                .decode(Bool.self, "present") == true
            else { continue }
            let others = try connection.query(
                "SELECT count(*) AS others FROM \(check.table) WHERE \(check.column) <> ALL($1::text[])", [check.allowed]
            ).first?.decode(Int64.self, "others") ?? 0
            if others > 0 {
                throw BackOfficeError(
                    .refused, "this database holds \(others) \(check.table) that are not the demo's examples: the demo will not touch it")
            }
        }
    }
}
