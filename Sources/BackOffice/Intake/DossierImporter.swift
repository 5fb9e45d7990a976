import Dossiers
import Foundation
import Logging
import Postgres

/// One import line that was refused, and why. Nothing of it was stored.
public struct RejectedLine: Error, Sendable, Equatable {
    public var line: Int
    public var externalID: String?
    /// Each reason names the JSON path concerned: `$.children[0].birth_date: not a valid date`.
    public var reasons: [String]
    /// The line as read, for the rejects file.
    public var input: [UInt8]
}

/// What an import did.
public struct ImportReport: Sendable, Equatable {
    public var lines = 0
    /// New dossiers stored and queued.
    public var created = 0
    /// Returned dossiers submitted again as a new version and queued.
    public var resubmitted = 0
    public var rejected: [RejectedLine] = []

    public var accepted: Int { created + resubmitted }
}

/// Imports submitted dossiers (JSON Lines, `contracts/dossier.schema.json`) and queues them.
///
/// Each line is checked against the contract; a bad line is reported and nothing of it is stored,
/// while good lines are stored in batches: COPY straight into the dossiers and their parts, with a
/// few set-based statements around it (``IntakeWriter``). Should the database refuse a batch, its
/// lines are retried one by one so that one bad line never costs the others.
public final class DossierImporter {
    private let connections: [Connection]
    private let logger: Logger
    private let batchSize: Int

    /// Lines per transaction unless the caller says otherwise.
    public static let defaultBatchSize = 2_000

    /// - Parameters:
    ///   - connections: where batches are stored. With two or more, batches are stored in
    ///     parallel, one per connection, while the next lines are parsed; each is still its own
    ///     transaction, but they may commit out of the file's order.
    ///   - batchSize: lines per transaction; larger batches import faster and hold locks longer.
    public init(connections: [Connection], logger: Logger, batchSize: Int = defaultBatchSize) {
        precondition(!connections.isEmpty, "an import needs a connection")
        self.connections = connections
        self.logger = logger
        self.batchSize = max(1, batchSize)
    }

    public convenience init(connection: Connection, logger: Logger, batchSize: Int = defaultBatchSize) {
        self.init(connections: [connection], logger: logger, batchSize: batchSize)
    }

    /// Imports every line of `path` (`-` for standard input).
    ///
    /// - Parameters:
    ///   - onRejected: called for each refused line as soon as it is known (for the rejects file).
    ///   - onProgress: called after each batch with the number of lines read so far.
    /// - Throws: ``BackOfficeError`` when the file cannot be read or the database fails as a whole;
    ///   batches already committed stay committed.
    func importFile(
        _ path: String, onRejected: (RejectedLine) throws -> Void = { _ in },
        onProgress: (Int) -> Void = { _ in }
    ) throws -> ImportReport {
        var reader = try LineReader(path: path)
        var report = ImportReport()
        let structures = try knownStructures()
        var batch: [IntakeLine] = []
        var seen: [String: Int] = [:]
        let lanes = ImportLanes(connections: connections, logger: logger)
        // However this ends, no batch may still be using a connection when the caller gets it back.
        defer { _ = lanes.finish() }
        var stored = 0
        var failure: (any Error)?

        func reject(_ rejected: RejectedLine) throws {
            report.rejected.append(rejected)
            try onRejected(rejected)
        }
        func account(for finished: [ImportLanes.Completed]) throws {
            for batch in finished {
                switch batch.outcome {
                case .success(let outcome):
                    report.created += outcome.created
                    report.resubmitted += outcome.resubmitted
                    for rejected in outcome.rejected { try reject(rejected) }
                    stored = max(stored, batch.linesRead)
                    onProgress(stored)
                case .failure(let error):
                    failure = failure ?? error
                }
            }
        }
        func flush() throws {
            guard !batch.isEmpty else { return }
            lanes.submit(batch, linesRead: report.lines)
            batch.removeAll(keepingCapacity: true)
            try account(for: lanes.takeCompleted())
            // Batches already handed over finish (and stay committed); nothing more is started.
            if let failure {
                try account(for: lanes.finish())
                throw failure
            }
        }

        while let (number, bytes) = reader.next() {
            report.lines = number
            switch Self.parse(bytes, line: number, structures: structures) {
            case .failure(let rejected):
                try reject(rejected)
            case .success(let line):
                if let first = seen[line.dossier.externalID] {
                    try reject(
                        RejectedLine(
                            line: number, externalID: line.dossier.externalID,
                            reasons: [
                                "$.external_id: \(line.dossier.externalID) is already submitted at line \(first) of this file"
                            ],
                            input: Array(bytes)))
                    continue
                }
                seen[line.dossier.externalID] = number
                batch.append(line)
                if batch.count >= batchSize { try flush() }
            }
        }
        try flush()
        try account(for: lanes.finish())
        if let failure { throw failure }
        if report.accepted >= Self.analyzeAfter { try analyzeGrownTables() }
        if report.lines == 0 {
            throw BackOfficeError(.badInput, "\(path): empty file, no dossier to import")
        }
        logger.info(
            "import done",
            metadata: [
                "lines": "\(report.lines)", "created": "\(report.created)", "resubmitted": "\(report.resubmitted)",
                "rejected": "\(report.rejected.count)",
            ])
        return report
    }

    /// Accepted lines after which the import refreshes the planner's statistics itself.
    static let analyzeAfter = 1_000

    /// Statistics follow a bulk load: until autovacuum gets round to analysing tables that have
    /// just grown by tens of thousands of rows, the workers' joins are planned for the old sizes
    /// (a run of 100,000 dossiers decided half of them at half speed, until autovacuum's ANALYZE).
    /// Only the tables whose size the import changed materially — never analysed, or changed by a
    /// tenth of their rows since their last analysis — are analysed: a small import into a big
    /// database costs no scan of its tables. And only the columns that queries join or filter on
    /// (``analyzedColumns``): the sizes are refreshed whatever the columns, and the names, notes
    /// and content (most of an ANALYZE's CPU, sorted to build their histograms) wait for
    /// autovacuum's own analysis.
    private func analyzeGrownTables() throws {
        try database("cannot analyse the imported tables") {
            let store = IntakeStore(connection: connections[0])
            let stale = Set(try store.staleTables(Self.analyzedColumns.map(\.table)))
            try store.analyze(Self.analyzedColumns.filter { stale.contains($0.table) })
        }
    }

    /// The tables an import grows, with the columns that the product's queries join or filter on.
    static let analyzedColumns: [(table: String, columns: [String])] = [
        ("accounts", ["id", "structure_id"]),
        ("dossier_records", ["id", "structure_id", "account_id", "external_id", "submitted_at"]),
        ("dossier_status", ["dossier_id", "state", "version"]),
        ("children", ["id", "dossier_id", "position"]),
        ("dossier_events", ["id", "dossier_id", "to_state"]),
        ("dossier_queue", ["id", "dossier_id", "job", "period_id", "run_at", "failed_at"]),
    ]

    /// A line that passed the contract, ready to store.
    struct IntakeLine: Sendable {
        var number: Int
        var dossier: Dossier
        var structureID: Int64
        var content: String
        var input: [UInt8]
    }

    /// A structure as the import checks a line against it.
    struct KnownStructure: Sendable {
        var id: Int64
        /// The codes of its services: a child may only ask for these.
        var services: Set<String>
    }

    static func parse(_ bytes: ArraySlice<UInt8>, line: Int, structures: [String: KnownStructure]) -> Result<
        IntakeLine, RejectedLine
    > {
        func rejected(_ reasons: [String], _ externalID: String? = nil) -> Result<IntakeLine, RejectedLine> {
            .failure(RejectedLine(line: line, externalID: externalID, reasons: reasons, input: Array(bytes)))
        }
        if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            return rejected(["$: empty line (JSON Lines has one dossier per line)"])
        }
        // PostgreSQL text cannot hold NUL; the contract's strings are text.
        if bytes.containsSubsequence(Array(#"\u0000"#.utf8)) {
            return rejected(["$: a value contains the NUL character (\\u0000)"])
        }
        switch DossierContract.decode(line: bytes) {
        case .failure(let error):
            return rejected(error.reasons)
        case .success(let dossier):
            guard let structure = structures[dossier.structureCode] else {
                return rejected(["$.structure: unknown structure \"\(dossier.structureCode)\""], dossier.externalID)
            }
            let unknownServices = dossier.children.enumerated().flatMap { index, child in
                (child.services ?? []).enumerated().filter { !structure.services.contains($0.element) }.map {
                    "$.children[\(index)].services[\($0.offset)]: unknown service \"\($0.element)\" of the structure \(dossier.structureCode)"
                }
            }
            if !unknownServices.isEmpty { return rejected(unknownServices, dossier.externalID) }
            return .success(
                IntakeLine(
                    number: line, dossier: dossier, structureID: structure.id,
                    content: String(decoding: bytes, as: UTF8.self), input: Array(bytes)))
        }
    }

    private func knownStructures() throws -> [String: KnownStructure] {
        try database("cannot read the structures") { try IntakeStore(connection: connections[0]).knownStructures() }
    }

    /// Stores a batch in one transaction; on a database refusal, line by line.
    static func store(_ batch: [IntakeLine], on connection: Connection, logger: Logger) throws -> IntakeOutcome {
        do {
            return try connection.transaction { try IntakeWriter(connection: $0).store(batch) }
        } catch let error as PostgresError where !error.isConnectionError && batch.count > 1 {
            logger.warning("import batch refused, retrying line by line", metadata: ["error": "\(error.logDescription)"])
            var outcome = IntakeOutcome()
            for line in batch {
                outcome.merge(try store([line], on: connection, logger: logger))
            }
            return outcome
        } catch let error as PostgresError where !error.isConnectionError {
            let line = batch[0]
            // Not the detail: it may quote the failing row, and reasons are printed on stderr, a log.
            let reason = error.logDescription
            return IntakeOutcome(
                rejected: [
                    RejectedLine(
                        line: line.number, externalID: line.dossier.externalID, reasons: ["$: \(reason)"],
                        input: line.input)
                ])
        } catch let error as PostgresError {
            throw BackOfficeError(error, doing: "cannot store the dossiers")
        }
    }
}

extension ContractError {
    /// One line per problem, each naming its JSON path.
    var reasons: [String] {
        if let syntax {
            return ["$: not valid JSON at column \(syntax.column): \(syntax.reason)"]
        }
        return violations.map { "\($0.path): \($0.reason)" }
    }
}

extension Collection where Element: Equatable {
    fileprivate func containsSubsequence(_ needle: [Element]) -> Bool {
        guard let first = needle.first else { return true }
        var index = startIndex
        while let candidate = self[index...].firstIndex(of: first) {
            if self[candidate...].starts(with: needle) { return true }
            index = self.index(after: candidate)
        }
        return false
    }
}
