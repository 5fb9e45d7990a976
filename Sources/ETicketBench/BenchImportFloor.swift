import BackOffice
import Foundation
import Postgres

/// The import's speed limit: the portal's lines copied as they are into a table that holds a key
/// and the line as jsonb, and nothing else, on the same database.
///
/// Batches of the import's size, each its own transaction, are spread over as many connections as
/// the import uses. What is left is what any import of these lines pays: reading the file, COPY
/// over libpq, parsing each line into jsonb, one heap row and one index entry, WAL and the fsync at
/// each commit. The product's import also checks each line against the contract and writes the
/// dossier's row, its parts, its submission event and its queue row: the ratio says what those
/// cost.
struct BenchImportFloor {
    let conninfo: String

    /// Copies every line of `path` into `bench_import_floor`, then drops the table.
    func run(file path: String, connections: Int, batchSize: Int) throws -> BenchBaseline.Result {
        let setup = try Database.connect(conninfo, actor: "admin:bench")
        defer { setup.close() }
        try database("cannot create the import floor's table") {
            try setup.execute(
                script: """
                    DROP TABLE IF EXISTS bench_import_floor;
                    CREATE TABLE bench_import_floor (line bigint PRIMARY KEY, content jsonb NOT NULL);
                    """)
        }
        let copy = "COPY bench_import_floor (line, content) FROM STDIN"
        let result = try BenchBaseline.timed(conninfo, connections: connections, name: "the import floor") {
            connection, lane, copied in
            // Each lane reads the file itself and copies every connections-th batch of it.
            var batch: [[String?]] = []
            for (number, bytes) in try LineReader(path: path) where (number - 1) / batchSize % connections == lane {
                batch.append([String(number), String(decoding: bytes, as: UTF8.self)])
                if batch.count == batchSize {
                    copied.add(try connection.copyIn(copy, rows: batch))
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { copied.add(try connection.copyIn(copy, rows: batch)) }
        }
        try? setup.execute(script: "DROP TABLE bench_import_floor")
        return result
    }
}
