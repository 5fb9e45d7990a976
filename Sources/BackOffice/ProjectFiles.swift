import Foundation

/// Finds the project's data directories (`sql/`, `config/`) at run time.
///
/// The migrations and templates are files, not compiled in, so that an operator can read them.
/// They are looked for, in order: under `ETICKET_HOME`, in the current directory, then upwards from
/// the executable (which finds the checkout when run from `.build/debug`), then `/usr/share/eticket`.
public enum ProjectFiles {
    /// The directory holding `name` (`sql`, `config`), or `nil` when none is found.
    public static func directory(_ name: String) -> String? {
        candidates().lazy.map { ($0 as NSString).appendingPathComponent(name) }.first(where: isDirectory)
    }

    private static func candidates() -> [String] {
        var roots: [String] = []
        if let home = ProcessInfo.processInfo.environment["ETICKET_HOME"] { roots.append(home) }
        roots.append(FileManager.default.currentDirectoryPath)
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<6 {
            roots.append(directory.path)
            directory.deleteLastPathComponent()
        }
        roots.append("/usr/share/eticket")
        return roots
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
