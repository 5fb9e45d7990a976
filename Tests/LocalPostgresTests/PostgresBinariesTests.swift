import Foundation
import Testing

@testable import LocalPostgres

@Suite struct PostgresBinariesTests {
    @Test func missingBinariesGiveAnActionableError() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-pg-\(getpid())").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let error = try #require(throws: LocalPostgresError.self) {
            try PostgresBinaries.locate(in: [empty, "/nonexistent/bin"])
        }
        #expect(error.code == .notInstalled)
        #expect(error.message.hasPrefix("PostgreSQL server binaries not found: install postgresql (apt-get install postgresql)"))
        #expect(error.description.contains(empty))
    }

    @Test func findsTheFirstDirectoryWithBothPrograms() throws {
        let defaults = PostgresBinaries.defaultSearchDirectories()
        let found = try PostgresBinaries.locate(in: ["/nonexistent/bin"] + defaults)
        #expect(FileManager.default.isExecutableFile(atPath: found.postgres))
        #expect(FileManager.default.isExecutableFile(atPath: found.initdb))
        #expect(defaults.contains(found.directory))
    }
}
