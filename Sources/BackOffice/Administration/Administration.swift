import Dossiers
import Foundation
import Logging
import Mail
import Postgres

/// The back office as an administrator's commands see it: one connection, one method per action.
///
/// The executable parses arguments and formats results; everything it does goes through here.
public final class Administration {
    package let connection: Connection
    let logger: Logger
    /// For the extra connections of work that runs in parallel (the import).
    let conninfo: String
    let actor: String

    /// Connects to the database.
    ///
    /// - Parameters:
    ///   - conninfo: a libpq URI or key=value string; empty means the PG* environment.
    ///   - actor: who the audit trail records for changes made here (`admin:<name>`).
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable`.
    public init(conninfo: String, actor: String = Administration.defaultActor, logger: Logger) throws {
        self.connection = try Database.connect(conninfo, actor: actor)
        self.logger = logger
        self.conninfo = conninfo
        self.actor = actor
    }

    /// Closes the connection; the object is unusable afterwards.
    public func close() {
        connection.close()
    }

    /// `admin:<login>` of the user running the command.
    public static var defaultActor: String {
        "admin:\(ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName)"
    }

    // MARK: - Schema

    /// Applies the pending migrations of `sql/` (or `directory`) and returns their versions.
    @discardableResult
    public func migrate(directory: String? = nil) throws -> [Int] {
        try migrator(directory).migrate(connection)
    }

    public func migrationStatus(directory: String? = nil) throws -> [MigrationStatus] {
        try migrator(directory).status(connection)
    }

    /// Fails unless every migration is applied, for commands that need the whole schema.
    public func requireMigrated() throws {
        let statuses = try migrationStatus()
        let pending = statuses.filter { $0.state != .applied }
        if !statuses.isEmpty, pending.count == statuses.count {
            throw BackOfficeError(.schema, "this database is not migrated (no migration applied): run `eticket db migrate`")
        }
        if let first = pending.first {
            throw BackOfficeError(
                .schema,
                "the database schema is not up to date (migration \(first.version) \(first.name) is \(first.state)): run `eticket db migrate`"
            )
        }
    }

    private func migrator(_ directory: String?) throws -> Migrator {
        guard let directory = directory ?? ProjectFiles.directory("sql") else {
            throw BackOfficeError(.schema, "the migrations were not found (sql/); run from the checkout or set ETICKET_HOME")
        }
        return Migrator(migrations: try Migration.load(directory: directory), logger: logger)
    }

    // MARK: - Intake

    /// Applies a structures file (`contracts/structures.schema.json`), whole or not at all.
    ///
    /// - Throws: ``BackOfficeError`` `.badInput` naming each JSON path that is wrong.
    public func applyStructures(file path: String) throws -> StructureApplyReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackOfficeError(.badInput, "\(path): no such file, or not readable")
        }
        switch StructuresContract.decode(Array(data)) {
        case .failure(let error):
            throw BackOfficeError(
                .badInput, ([path + ": not a valid structures file:"] + error.reasons).joined(separator: "\n  "))
        case .success(let structures):
            do {
                return try StructureCatalog(connection: connection).apply(structures)
            } catch let error as BackOfficeError where error.code == .badInput {
                throw BackOfficeError(
                    .badInput, "\(path): not a valid structures file:\n  \(error.message)", underlying: error.underlying)
            }
        }
    }

    /// Imports a JSON Lines file of submitted dossiers and queues them.
    ///
    /// - Parameters:
    ///   - rejectsPath: where refused lines are written, one JSON object per line with the line
    ///     number, the reasons and the input; no file is left when nothing was refused.
    ///   - connections: batches stored at once (each its own transaction); 2 keeps both of a
    ///     small server's cores busy while this process parses. With more than one, batches may
    ///     commit, and refused lines be reported, out of the file's order.
    public func importDossiers(
        file path: String, rejectsPath: String? = nil, connections: Int = 1, onProgress: (Int) -> Void = { _ in }
    ) throws -> ImportReport {
        let rejects = try rejectsPath.map { try RejectsFile(path: $0) }
        let extra = try (1..<max(1, connections)).map { _ in try Database.connect(conninfo, actor: actor) }
        defer { extra.forEach { $0.close() } }
        let report: ImportReport
        do {
            report = try DossierImporter(connections: [connection] + extra, logger: logger).importFile(
                path, onRejected: { try rejects?.write($0) }, onProgress: onProgress)
        } catch {
            // Keep what was refused before the failure; leave no empty file behind.
            try? rejects?.close()
            throw error
        }
        try rejects?.close()
        return report
    }

    // MARK: - Reading

    /// One line per dossier: where it stands, its last decision and its rights.
    public struct DossierLine: Sendable, Equatable, Codable {
        public var externalID: String
        public var structure: String
        public var state: DossierState
        public var version: Int
        public var children: Int
        public var findings: [String]
        public var decidedBy: String?
        public var rightsOpened: Int
        public var queued: Bool
        public var lastError: String?
    }

    /// Every dossier, oldest submission first.
    public func dossiers(structure: String? = nil) throws -> [DossierLine] {
        try requireStructure(structure)
        return try database("cannot list the dossiers") {
            try QueueReportStore(connection: connection).dossierLines(structure: structure)
        }
    }
}

/// The rejects file of an import: one JSON object per refused line.
///
/// Refused lines quote families' data: the file is opened through a ``SafeDirectory`` (never
/// through a symbolic link, only this user's own regular file) and is mode 0600 whatever it was.
final class RejectsFile {
    private let directory: SafeDirectory
    private let name: String
    private let handle: FileHandle
    private let path: String
    private var count = 0

    init(path: String) throws {
        do {
            (directory, name) = try SafeDirectory.containing(path, create: false)
            handle = FileHandle(fileDescriptor: try directory.openFile(name, truncate: true), closeOnDealloc: true)
        } catch {
            throw BackOfficeError(.failure, "cannot create the rejects file: \(error)", underlying: error)
        }
        self.path = path
    }

    private struct Entry: Encodable {
        var line: Int
        var externalID: String?
        var reasons: [String]
        /// The line as read; invalid UTF-8 shows as U+FFFD.
        var input: String

        enum CodingKeys: String, CodingKey {
            case line, reasons, input
            case externalID = "external_id"
        }
    }

    func write(_ rejected: RejectedLine) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let entry = Entry(
            line: rejected.line, externalID: rejected.externalID, reasons: rejected.reasons,
            input: String(decoding: rejected.input, as: UTF8.self))
        try handle.write(contentsOf: try encoder.encode(entry) + Data("\n".utf8))
        count += 1
    }

    func close() throws {
        try handle.synchronize()
        if count == 0 { directory.remove(name, ifStill: handle.fileDescriptor) }
        try handle.close()
    }
}
