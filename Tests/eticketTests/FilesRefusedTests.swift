import Foundation
import TestSupport
import Testing

/// `eticket` given a file name where someone planted a link to another file: the command fails
/// with exit code 1 and says which path and why, and the other file is left as it was.
@Suite("Files refused", .tags(.e2e))
struct FilesRefusedTests {
    private static let victimText = "the operator's own file\n"

    /// A folder, and a victim file outside it that the operator can write.
    private func folderAndVictim() throws -> (folder: String, victim: String) {
        let root = TestFiles.directory.appendingPathComponent("eticket-refused-\(UUID().uuidString)").path
        let folder = root + "/folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let victim = root + "/victim"
        #expect(
            FileManager.default.createFile(
                atPath: victim, contents: Data(Self.victimText.utf8), attributes: [.posixPermissions: 0o644]))
        return (folder, victim)
    }

    private func expectVictimUntouched(_ victim: String) throws {
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: victim)), as: UTF8.self) == Self.victimText)
    }

    @Test(arguments: ["jsonl", "mbox"])
    func anExportToALinkFails(format: String) throws {
        let conninfo = try Databases.withStructures()
        let (folder, victim) = try folderAndVictim()
        let path = "\(folder)/outbox.\(format)"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        let result = try CLI.run(["outbox", "export", "--format", format, "--to", path, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(path): is a symbolic link"), "\(result.stderr)")
        try expectVictimUntouched(victim)
    }

    @Test func anImportWithItsRejectsFileALinkFails() throws {
        let conninfo = try Databases.withStructures()
        let (folder, victim) = try folderAndVictim()
        let rejects = "\(folder)/rejects.jsonl"
        try FileManager.default.createSymbolicLink(atPath: rejects, withDestinationPath: victim)
        let input = "\(folder)/dossiers.jsonl"
        try Data("{\"not\": \"a dossier\"}\n".utf8).write(to: URL(fileURLWithPath: input))
        let result = try CLI.run(["dossiers", "import", input, "--rejects", rejects, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(rejects): is a symbolic link"), "\(result.stderr)")
        try expectVictimUntouched(victim)
    }

    @Test func anExportToAMaildirThatIsALinkFails() throws {
        let conninfo = try Databases.withStructures()
        let (folder, _) = try folderAndVictim()
        let elsewhere = folder + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        let maildir = "\(folder)/Maildir"
        try FileManager.default.createSymbolicLink(atPath: maildir, withDestinationPath: elsewhere)
        let result = try CLI.run(["outbox", "export", "--format", "maildir", "--to", maildir, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(maildir): is a symbolic link"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == [])
    }

    @Test func aBatchRunWhoseMetricsFileIsALinkFails() throws {
        let conninfo = try Databases.withStructures()
        let (folder, victim) = try folderAndVictim()
        let metrics = "\(folder)/eticket.prom"
        try FileManager.default.createSymbolicLink(atPath: metrics, withDestinationPath: victim)
        let result = try CLI.run(["batch", "run", "--metrics-file", metrics, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(metrics): is a symbolic link"), "\(result.stderr)")
        try expectVictimUntouched(victim)
    }
}
