import Foundation

/// Where the PostgreSQL server programs are installed.
struct PostgresBinaries: Sendable, Equatable {
    /// The directory holding `postgres` and `initdb`.
    var directory: String

    var postgres: String { directory + "/postgres" }
    var initdb: String { directory + "/initdb" }

    /// Whether the server can load the module `name` (Debian keeps them in `bin/../lib`).
    func hasLibrary(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(directory)/../lib/\(name).so")
    }

    /// Finds the first directory holding both `postgres` and `initdb`.
    ///
    /// - Parameter candidates: Directories to try in order; by default ``defaultSearchDirectories()``.
    /// - Throws: ``LocalPostgresError`` with code `notInstalled` when none does.
    static func locate(in candidates: [String] = defaultSearchDirectories()) throws(LocalPostgresError) -> PostgresBinaries {
        for directory in candidates {
            let binaries = PostgresBinaries(directory: directory)
            if FileManager.default.isExecutableFile(atPath: binaries.postgres),
                FileManager.default.isExecutableFile(atPath: binaries.initdb)
            {
                return binaries
            }
        }
        throw LocalPostgresError(
            code: .notInstalled,
            message: "PostgreSQL server binaries not found: install postgresql (apt-get install postgresql)"
                + " (looked in: \(candidates.isEmpty ? "nothing" : candidates.joined(separator: ", ")))")
    }

    /// `pg_config --bindir` first (the installation the libpq headers came from), then the
    /// newest `/usr/lib/postgresql/<version>/bin` (Debian installs server programs off PATH).
    static func defaultSearchDirectories() -> [String] {
        var candidates: [String] = []
        if let bindir = pgConfigBindir() { candidates.append(bindir) }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let newestFirst = versions.sorted { (Double($0) ?? 0) > (Double($1) ?? 0) }
        candidates += newestFirst.map { "\(root)/\($0)/bin" }
        return candidates
    }

    private static func pgConfigBindir() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let pgConfig = path.split(separator: ":").map({ "\($0)/pg_config" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pgConfig)
        process.arguments = ["--bindir"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let bindir = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return bindir.isEmpty ? nil : bindir
    }
}
