import BackOffice
import Foundation
import Postgres
import Synchronization

/// The speed limit: the least a queue consumer can do per row, in plain SQL, on the same database.
///
/// Each of `connections` threads loops over transactions of: claim `batchSize` rows with
/// `SELECT … FOR UPDATE SKIP LOCKED LIMIT B`, one decision row per claimed row, one outbox row per
/// claimed row holding one of the run's own outbox payloads (sampled from `email_outbox`: what
/// each row keeps of its email since 029, its particulars, or the rendered message of an older
/// row; in an lz4-compressed column; sent as a `bytea[]` in binary), delete the claimed rows, commit. No JSON, no rules, no rendering: what is
/// left is libpq, the network and the database's own work (WAL, fsync at commit, index upkeep),
/// which the product pays too.
///
/// - Important: the payloads must be the run's own. Filler text (the loop's first version
///   repeated one sentence) compresses to almost nothing: it wrote a tenth of the WAL of a real
///   email, and flattered the loop.
struct BenchBaseline {
    let conninfo: String

    struct Result {
        var rows = 0
        var seconds = 0.0
    }

    /// How many of the run's emails the loop cycles through.
    static let sampledMessages = 500

    /// The run's own outbox payloads, a deterministic spread over the outbox (both kinds, every
    /// structure), for the loop to write.
    static func sampleMessages(_ connection: Connection) throws -> [[UInt8]] {
        try connection.query(
            """
            SELECT coalesce(message, convert_to(particulars::text, 'UTF8')) AS payload
            FROM email_outbox ORDER BY md5(id::text) LIMIT $1
            """, [sampledMessages]
        ).map { try $0.decode([UInt8].self, "payload") }
    }

    /// Creates the baseline's own tables (`bench_baseline_*`), fills the queue with `rows` rows,
    /// drains it with `connections` consumers writing `messages` in turn, and drops the tables.
    func run(rows: Int, connections: Int, batchSize: Int, messages: [[UInt8]]) throws -> Result {
        guard !messages.isEmpty else { throw BackOfficeError(.failure, "the plain-SQL baseline needs the run's emails") }
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
                        message bytea COMPRESSION lz4 NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now());
                    """)
            try setup.query("INSERT INTO bench_baseline_queue (dossier_id) SELECT g FROM generate_series(1, $1::int) g", [rows])
            try setup.execute(script: "VACUUM ANALYZE bench_baseline_queue")
        }
        let result = try Self.timed(conninfo, connections: connections, name: "the plain-SQL baseline") {
            connection, index, moved in
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
                        [ids, PostgresByteaArray(ids.map { messages[Int($0) % messages.count] })])
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
