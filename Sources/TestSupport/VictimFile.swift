import Foundation
import Testing

/// The scene of the tests of files written safely: a folder where someone else may plant links,
/// FIFOs or other files, and outside it a victim file the product's user can write, which a
/// planted link would make the product overwrite. Used by the exporters', the back office's and
/// the command line's tests alike.
public enum VictimFile {
    /// What the victim holds, and must still hold after the attempt.
    public static let text = "the product's user's own file\n"

    /// A fresh folder, and beside it (outside it) a victim file of mode 0644.
    public static func folderAndVictim() throws -> (folder: String, victim: String) {
        let root = TestFiles.directory.appendingPathComponent("victim-\(UUID().uuidString)").path
        let folder = root + "/folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let victim = root + "/victim"
        #expect(
            FileManager.default.createFile(atPath: victim, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]))
        return (folder, victim)
    }

    /// Expects the victim as ``folderAndVictim()`` made it: the same bytes, the same mode.
    public static func expectUntouched(_ victim: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        #expect(String(decoding: bytes, as: UTF8.self) == text, sourceLocation: sourceLocation)
        let mode = try FileManager.default.attributesOfItem(atPath: victim)[.posixPermissions] as? Int
        #expect(mode == 0o644, "the victim's mode", sourceLocation: sourceLocation)
    }
}
