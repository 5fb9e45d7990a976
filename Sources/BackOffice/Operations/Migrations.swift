import Foundation
import Logging
import Postgres

/// One numbered schema change, `sql/NNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads every `NNN_name.sql` of `directory`, in version order.
    ///
    /// - Throws: ``BackOfficeError`` `.schema` when a file name is not of that form or two files
    ///   share a number.
    public static func load(directory: String) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        } catch {
            throw BackOfficeError(.schema, "cannot read the migrations in \(directory): \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        var files: [Int: String] = [:]
        for file in names.sorted() {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw BackOfficeError(.schema, "\(directory)/\(file): a migration is named NNN_name.sql")
            }
            let path = (directory as NSString).appendingPathComponent(file)
            guard let sql = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw BackOfficeError(.schema, "\(path): not readable as UTF-8")
            }
            // Compare numbers, not names: 1_a.sql and 001_b.sql share a version, and 9_a.sql comes before 010_b.sql.
            if let previous = files[version] {
                throw BackOfficeError(.schema, "\(path): version \(version) is used twice (also \(previous))")
            }
            files[version] = file
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}

/// Where one migration stands in a database.
public struct MigrationStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case applied
        case pending
        /// Applied, but the file changed since: the database no longer matches the source.
        case changed
        /// Applied in the database, but no file has this version.
        case unknown
    }

    public var version: Int
    public var name: String
    public var state: State
    public var appliedAt: Date?
}

/// Applies `sql/` migrations: each in its own transaction, recorded with its checksum, serialised
/// by an advisory lock so that two migrators never race.
public struct Migrator {
    public let migrations: [Migration]
    let logger: Logger

    /// The advisory lock key, shared by every migrator of every version ("eticket" in ASCII).
    static let lockKey: Int64 = 0x6574_6963_6b65_74

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is pending and returns the versions applied.
    ///
    /// - Throws: ``BackOfficeError`` `.schema` when an applied migration's file changed since (its
    ///   checksum differs): the database would no longer match what the files say.
    @discardableResult
    public func migrate(_ connection: Connection) throws -> [Int] {
        try database("cannot apply the migrations") {
            // Lock before creating the history table: two first migrators would otherwise race there.
            let store = MigrationStore(connection: connection)
            try store.lock(Self.lockKey)
            defer { try? store.unlock(Self.lockKey) }
            try store.createHistory()
            let statuses = try status(connection)
            if let changed = statuses.first(where: { $0.state == .changed }) {
                throw BackOfficeError(
                    .schema,
                    "migration \(changed.version) (\(changed.name)) changed after it was applied: "
                        + "landed migrations are never edited; add a new one instead")
            }
            let pending = Set(statuses.filter { $0.state == .pending }.map(\.version))
            var applied: [Int] = []
            for migration in migrations where pending.contains(migration.version) {
                do {
                    try apply(migration, on: connection)
                } catch let error as PostgresError where Self.lostRoleRace(error) {
                    // Its transaction rolled back whole; run again, it finds the role there.
                    logger.info(
                        "another database created a role first, applying again", metadata: ["version": "\(migration.version)"])
                    try apply(migration, on: connection)
                }
                logger.info("migration applied", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration.version)
            }
            return applied
        }
    }

    private func apply(_ migration: Migration, on connection: Connection) throws {
        try connection.transaction { connection in
            try MigrationStore(connection: connection).apply(migration)
        }
    }

    /// Roles belong to the cluster while the advisory lock belongs to one database: two databases
    /// migrated at once (test suites do it) can both find a role missing, and the second
    /// `CREATE ROLE` then fails on the catalog's unique index once the first commits.
    static func lostRoleRace(_ error: PostgresError) -> Bool {
        (error.sqlState == "23505" && error.constraint == "pg_authid_rolname_index") || error.sqlState == "42710"
    }

    /// Every migration known to the files or to the database, and where it stands.
    public func status(_ connection: Connection) throws -> [MigrationStatus] {
        try database("cannot read the migration history") {
            let recorded = try MigrationStore(connection: connection).recorded(comparedWith: migrations)
            var statuses = migrations.map { migration in
                guard let record = recorded[migration.version] else {
                    return MigrationStatus(version: migration.version, name: migration.name, state: .pending)
                }
                return MigrationStatus(
                    version: migration.version, name: migration.name, state: record.matches ? .applied : .changed,
                    appliedAt: record.appliedAt)
            }
            let known = Set(migrations.map(\.version))
            for (version, record) in recorded where !known.contains(version) {
                statuses.append(
                    MigrationStatus(version: version, name: record.name, state: .unknown, appliedAt: record.appliedAt))
            }
            return statuses.sorted { $0.version < $1.version }
        }
    }
}
