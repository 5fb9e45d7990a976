import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

#if canImport(Glibc)
    import Glibc
#endif

/// The files the back office writes besides the outbox (an import's rejects file, the metrics
/// file), and exports of two databases into one folder, with someone who can write in that
/// folder trying to make the product write elsewhere.
@Suite("Files written safely")
struct FilesWrittenSafelyTests {
    private func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    /// A file of one good and one bad dossier line.
    private func goodAndBadLines() throws -> String {
        let good = try #require(try Fixture.exampleLines()["VLF-0001"])
        return try Fixture.file([good, "{\"not\": \"a dossier\"}"])
    }

    @Test func aLinkAsTheRejectsFileIsRefusedBeforeAnythingIsImported() throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let rejects = "\(folder)/rejects.jsonl"
        try FileManager.default.createSymbolicLink(atPath: rejects, withDestinationPath: victim)
        let error = #expect(throws: BackOfficeError.self) {
            try administration.importDossiers(file: try goodAndBadLines(), rejectsPath: rejects)
        }
        #expect(error?.message.contains("\(rejects): is a symbolic link") == true, "\(String(describing: error))")
        try VictimFile.expectUntouched(victim)
        let connection = try Fixture.connection(conninfo)
        #expect(try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self) == 0)
    }

    @Test func anExistingWorldReadableRejectsFileEndsPrivate() throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let rejects = "\(folder)/rejects.jsonl"
        #expect(
            FileManager.default.createFile(atPath: rejects, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o644]))
        #expect(try administration.importDossiers(file: try goodAndBadLines(), rejectsPath: rejects).rejected.count == 1)
        #expect(try mode(rejects) == 0o600)
        #expect(try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n").count == 1)
    }

    @Test func aFIFOOrADirectoryAsTheRejectsFileIsRefused() throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        let fifo = "\(folder)/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let directory = "\(folder)/directory"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for (path, kind) in [(fifo, "a FIFO"), (directory, "a directory")] {
            let error = #expect(throws: BackOfficeError.self) {
                try administration.importDossiers(file: try goodAndBadLines(), rejectsPath: path)
            }
            #expect(error?.message.contains("\(path): is \(kind)") == true, "\(String(describing: error))")
        }
    }

    @Test func aLinkAsTheMetricsFileOrItsTemporaryFileIsRefused() throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/eticket.prom"
        let temporary = "\(folder)/.eticket.prom.tmp-\(getpid())"
        for planted in [path, temporary] {
            try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
            let error = #expect(throws: BackOfficeError.self) { try writeAtomically("eticket_up 1\n", to: path) }
            #expect(error?.message.contains("\(planted): is a symbolic link") == true, "\(String(describing: error))")
            try VictimFile.expectUntouched(victim)
            try FileManager.default.removeItem(atPath: planted)
        }
        try writeAtomically("eticket_up 1\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "eticket_up 1\n")
    }

    /// The examples imported and decided in a database of their own (not a copy of a template
    /// that holds the emails already): its outbox numbers its rows from 1 like any other, and its
    /// emails have Message-IDs of their own.
    private func separatelyDecidedExamples() throws -> String {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger
        ).drain()
        return conninfo
    }

    @Test(arguments: [ExportFormatValue.maildir, .eml, .mbox, .jsonl])
    func twoDatabasesExportedIntoOneFolderKeepEachOthersMessages(format: ExportFormatValue) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let path = format == .maildir || format == .eml ? "\(folder)/out" : "\(folder)/outbox.\(format.rawValue)"
        var stored: [[UInt8]] = []
        for _ in 0..<2 {
            let administration = try Fixture.administration(try separatelyDecidedExamples())
            defer { administration.close() }
            stored += try administration.outbox.list().map { try administration.outbox.message(id: $0.id) }
            #expect(try administration.outbox.export(to: path, format: format).exported == 4)
        }
        #expect(stored.count == 8)
        switch format {
        case .maildir, .eml:
            let directory = format == .maildir ? "\(path)/new" : path
            let found = try FileManager.default.contentsOfDirectory(atPath: directory).map {
                Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0)")))
            }
            let sameMessages = Set(found) == Set(stored)
            #expect(sameMessages && found.count == 8, "\(found.count) files")
        case .jsonl:
            #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 8)
        case .mbox:
            #expect(
                try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("From ") }.count
                    == 8)
        }
    }
}
