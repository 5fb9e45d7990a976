import Foundation
import Postgres

extension Administration {
    /// What the demo's example files hold: the only data it accepts to find in a database.
    public struct DemoExamples: Sendable {
        var structureCodes: [String]
        var dossierIDs: [String]

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
                let store = DemoStore(connection: connection)
                try store.lockClaim()
                let tables = try store.userTableCount()
                if tables == 0 {
                    try store.mark()
                    return
                }
                guard try store.isMarked() else {
                    throw BackOfficeError(
                        .refused,
                        "this database holds \(tables) tables and was not made by the demo: the demo runs only on an empty database or one it made"
                    )
                }
                try refuseOtherThanExamples(examples, in: store)
            }
        }
    }

    private func refuseOtherThanExamples(_ examples: DemoExamples, in store: DemoStore) throws {
        let allowed: [DemoStore.ExampleTable: [String]] = [.structures: examples.structureCodes, .dossiers: examples.dossierIDs]
        for table in DemoStore.ExampleTable.allCases {
            let others = try store.rowsOtherThan(allowed[table] ?? [], in: table) ?? 0
            if others > 0 {
                throw BackOfficeError(
                    .refused,
                    "this database holds \(others) \(table.rawValue) that are not the demo's examples: the demo will not touch it"
                )
            }
        }
    }
}
