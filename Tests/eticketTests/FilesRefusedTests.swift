import Foundation
import TestSupport
import Testing

/// `eticket` given a file name where someone planted a link to another file: the command fails
/// with exit code 1 and says which path and why, and the other file is left as it was.
@Suite("Files refused", .tags(.e2e))
struct FilesRefusedTests {
    @Test(arguments: ["jsonl", "mbox"])
    func anExportToALinkFails(format: String) throws {
        let conninfo = try Databases.withStructures()
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format)"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        let result = try CLI.run(["outbox", "export", "--format", format, "--to", path, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(path): is a symbolic link"), "\(result.stderr)")
        try VictimFile.expectUntouched(victim)
    }

    /// `templates preview --html` writes the HTML an administrator opens in a browser: privately,
    /// and never through a link.
    @Test func anHTMLPreviewIsPrivateAndRefusesALink() throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/preview.html"
        let written = try CLI.run(["templates", "preview", "planning-open", "--example", "--html", path])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout.hasPrefix("\(path): the HTML part, "))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("<!DOCTYPE html>\n<html lang=\"fr\">"))

        let link = "\(folder)/link.html"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        let refused = try CLI.run(["templates", "preview", "planning-open", "--example", "--html", link])
        #expect(refused.status == 1 && !refused.signaled, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("is a symbolic link"), "\(refused.stderr)")
        try VictimFile.expectUntouched(victim)
    }

    @Test func anImportWithItsRejectsFileALinkFails() throws {
        let conninfo = try Databases.withStructures()
        let (folder, victim) = try VictimFile.folderAndVictim()
        let rejects = "\(folder)/rejects.jsonl"
        try FileManager.default.createSymbolicLink(atPath: rejects, withDestinationPath: victim)
        let input = "\(folder)/dossiers.jsonl"
        try Data("{\"not\": \"a dossier\"}\n".utf8).write(to: URL(fileURLWithPath: input))
        let result = try CLI.run(["dossiers", "import", input, "--rejects", rejects, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(rejects): is a symbolic link"), "\(result.stderr)")
        try VictimFile.expectUntouched(victim)
    }

    @Test func anExportToAMaildirThatIsALinkFails() throws {
        let conninfo = try Databases.withStructures()
        let (folder, _) = try VictimFile.folderAndVictim()
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
        let (folder, victim) = try VictimFile.folderAndVictim()
        let metrics = "\(folder)/eticket.prom"
        try FileManager.default.createSymbolicLink(atPath: metrics, withDestinationPath: victim)
        let result = try CLI.run(["batch", "run", "--metrics-file", metrics, "--database-url", conninfo])
        #expect(result.status == 1 && !result.signaled, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("\(metrics): is a symbolic link"), "\(result.stderr)")
        try VictimFile.expectUntouched(victim)
    }
}
