import Foundation
import Postgres
import Synchronization

/// The speed limit: the least a queue consumer can do per row, in plain SQL, on the same database.
///
/// Each of `connections` threads loops over transactions of: claim `batchSize` rows with
/// `SELECT … FOR UPDATE SKIP LOCKED LIMIT B`, one decision row per claimed row, one ~4 KB outbox row
/// per claimed row (sent over the wire as the worker sends its rendered emails: a `bytea[]` in
/// binary, which the server takes without parsing a character of it), delete the claimed
/// rows, commit. No JSON, no rules, no rendering: what is left is libpq, the network and the
/// database's own work (WAL, fsync at commit, index upkeep), which the product pays too.
struct BenchBaseline {
    let conninfo: String

    struct Result {
        var rows = 0
        var seconds = 0.0
    }

    /// Creates the baseline's own tables (`bench_baseline_*`), fills the queue with `rows` rows,
    /// drains it with `connections` consumers, and drops the tables.
    func run(rows: Int, connections: Int, batchSize: Int) throws -> Result {
        let setup = try Database.connect(conninfo, actor: "admin:bench")
        defer { setup.close() }
        try database("cannot create the baseline tables") {
            try setup.execute(
                script: """
                    DROP TABLE IF EXISTS bench_baseline_queue, bench_baseline_decisions, bench_baseline_outbox;
                    CREATE TABLE bench_baseline_queue (
                        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        dossier_id bigint NOT NULL,
                        run_at timestamptz NOT NULL DEFAULT now());
                    CREATE INDEX bench_baseline_queue_due ON bench_baseline_queue (run_at, id);
                    CREATE TABLE bench_baseline_decisions (
                        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        dossier_id bigint NOT NULL,
                        outcome text NOT NULL,
                        decided_at timestamptz NOT NULL DEFAULT now());
                    CREATE TABLE bench_baseline_outbox (
                        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        dossier_id bigint NOT NULL,
                        message bytea NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now());
                    """)
            try setup.query("INSERT INTO bench_baseline_queue (dossier_id) SELECT g FROM generate_series(1, $1::int) g", [rows])
            try setup.execute(script: "VACUUM ANALYZE bench_baseline_queue")
        }
        let result = try Self.timed(conninfo, connections: connections, name: "the plain-SQL baseline") { connection, index, moved in
            // A message the size of a rendered email, different for each consumer.
            let body = Array(String(repeating: "Bonjour, votre dossier a été traité. \(index) ", count: 90).utf8)
            while true {
                let claimed = try connection.transaction { connection -> Int in
                    let ids = try connection.query(
                        "SELECT id FROM bench_baseline_queue ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT $1",
                        [batchSize]
                    ).map { try $0.decode(Int64.self, "id") }
                    guard !ids.isEmpty else { return 0 }
                    try connection.query(
                        "INSERT INTO bench_baseline_decisions (dossier_id, outcome) SELECT unnest($1::bigint[]), 'validated'",
                        [ids])
                    try connection.query(
                        "INSERT INTO bench_baseline_outbox (dossier_id, message) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                        [ids, PostgresByteaArray(ids.map { Array("\($0) ".utf8) + body })])
                    try connection.query("DELETE FROM bench_baseline_queue WHERE id = ANY($1::bigint[])", [ids])
                    return ids.count
                }
                if claimed == 0 { break }
                moved.add(claimed)
            }
        }
        try? setup.execute(script: "DROP TABLE bench_baseline_queue, bench_baseline_decisions, bench_baseline_outbox")
        return result
    }

    /// Runs `body` on `connections` threads, each with a connection of its own, and times them
    /// together: the rows they count, over the seconds until the last one is done.
    ///
    /// - Throws: ``BackOfficeError`` naming `name` with the first error any thread met.
    static func timed(
        _ conninfo: String, connections: Int, name: String,
        _ body: @escaping @Sendable (_ connection: Connection, _ index: Int, _ rows: BenchCounter) throws -> Void
    ) throws -> Result {
        let rows = BenchCounter()
        let failure = FirstError()
        let started = ContinuousClock.now
        onThreads(connections) { index in
            do {
                let connection = try Connection(conninfo)
                defer { connection.close() }
                try body(connection, index, rows)
            } catch {
                failure.record(error)
            }
        }
        let seconds = (ContinuousClock.now - started).benchSeconds
        if let error = failure.value { throw BackOfficeError(.failure, "\(name) failed: \(error)") }
        return Result(rows: rows.value, seconds: seconds)
    }
}

extension Duration {
    var benchSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
