import BackOffice
import Foundation
import Postgres

/// What each statement of a phase cost the server, from `pg_stat_statements`: where the time
/// goes, in every run, without a profiler.
///
/// Counters are read before and after a phase and subtracted, so that nothing is reset on the
/// server: only top-level statements of this database, whose time includes the triggers and
/// foreign-key checks they fired.
struct BenchStatements {
    private let connection: Connection
    /// Whether ``open(_:)`` created the extension, for ``close()`` to drop it.
    private let createdExtension: Bool

    /// One statement's counters at a moment.
    struct Counters {
        var query: String
        var calls: Int
        var rows: Int
        var milliseconds: Double
        var walBytes: Double
    }

    typealias Snapshot = [Int64: Counters]

    /// Why per-statement costs are missing from a report, when they are.
    static let unavailableNote =
        "no per-statement costs: the server does not load pg_stat_statements (shared_preload_libraries) or this role may not create the extension; the bench's own cluster does both"

    /// Opens the statistics on `connection`'s database, creating the extension there when the
    /// server loads the module; `nil` when they cannot be read (then nothing is left behind).
    static func open(_ connection: Connection) -> BenchStatements? {
        let existed = (try? connection.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").count) == 1
        if !existed {
            guard (try? connection.execute(script: "CREATE EXTENSION pg_stat_statements")) != nil else { return nil }
        }
        let statements = BenchStatements(connection: connection, createdExtension: !existed)
        guard (try? statements.snapshot()) != nil else {
            // Created, but the module is not loaded: every read fails.
            statements.close()
            return nil
        }
        return statements
    }

    /// Drops the extension if ``open(_:)`` created it: the database is left as the bench found it.
    func close() {
        if createdExtension { try? connection.execute(script: "DROP EXTENSION pg_stat_statements") }
    }

    /// The counters of every top-level statement of this database so far.
    func snapshot() throws -> Snapshot {
        var counters: Snapshot = [:]
        for row in try connection.query(
            """
            SELECT queryid, query, calls, rows, total_exec_time AS ms, wal_bytes::float8 AS wal
            FROM pg_stat_statements
            WHERE toplevel AND queryid IS NOT NULL
              AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """)
        {
            counters[try row.decode("queryid")] = Counters(
                query: try row.decode("query"), calls: try row.decode("calls"), rows: try row.decode("rows"),
                milliseconds: try row.decode("ms"), walBytes: try row.decode("wal"))
        }
        return counters
    }

    /// The `count` statements that took the most time between two snapshots, per item of the phase.
    static func costliest(_ count: Int, from start: Snapshot, to end: Snapshot, items: Int) -> [BenchReport.StatementCost] {
        let spent = end.compactMap { id, now -> Counters? in
            // A statement evicted and seen again counts from zero.
            let base = start[id].flatMap { $0.calls <= now.calls ? $0 : nil }
            let calls = now.calls - (base?.calls ?? 0)
            guard calls > 0, !now.query.contains("pg_stat_statements") else { return nil }
            return Counters(
                query: now.query, calls: calls, rows: now.rows - (base?.rows ?? 0),
                milliseconds: now.milliseconds - (base?.milliseconds ?? 0), walBytes: now.walBytes - (base?.walBytes ?? 0))
        }
        let total = spent.reduce(0) { $0 + $1.milliseconds }
        let perItem = 1 / Double(max(items, 1))
        return spent.sorted { $0.milliseconds > $1.milliseconds }.prefix(count).map { statement in
            BenchReport.StatementCost(
                query: Self.shortened(statement.query), calls: statement.calls, rows: statement.rows,
                msPerItem: (statement.milliseconds * perItem * 1000).rounded() / 1000,
                walBytesPerItem: (statement.walBytes * perItem).rounded(),
                share: total > 0 ? (statement.milliseconds / total * 1000).rounded() / 1000 : 0)
        }
    }

    /// How many top-level statements (BEGIN, COMMIT and SAVEPOINT included) the server ran between
    /// two snapshots, the statistics' own reads left out.
    static func calls(from start: Snapshot, to end: Snapshot) -> Int {
        end.reduce(0) { total, entry in
            let (id, now) = entry
            guard !now.query.contains("pg_stat_statements") else { return total }
            let base = start[id].flatMap { $0.calls <= now.calls ? $0 : nil }
            return total + now.calls - (base?.calls ?? 0)
        }
    }

    /// The statement on one line, whitespace collapsed, cut at 120 characters. A statement whose
    /// `WITH` clause would fill the line is shown from the write it does (`WITH … INSERT INTO x`).
    static func shortened(_ query: String) -> String {
        var line = query.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if line.hasPrefix("WITH "),
            let write = [" INSERT INTO ", " UPDATE ", " DELETE FROM "].compactMap({ line.range(of: $0)?.lowerBound }).min(),
            line.distance(from: line.startIndex, to: write) > 40
        {
            line = "WITH …" + line[write...]
        }
        return line.count > 120 ? line.prefix(119) + "…" : line
    }
}
