import Foundation

/// Finds the project's data directories (`sql/`, `config/`) at run time.
///
/// The migrations and templates are files, not compiled in, so that an operator can read them.
/// They are looked for, in order:
/// 1. under `ETICKET_HOME`, when set;
/// 2. in the installed layout beside the running executable, `BIN/../share/eticket` (the Debian
///    package's `/usr/bin/eticket` finds `/usr/share/eticket`, and an unpacked package in a
///    staging root finds its own copy, never the system's);
/// 3. in a checkout above the executable (`swift run` and the tests run `.build/debug/eticket`);
/// 4. in the current directory.
///
/// The executable is `/proc/self/exe`, not `argv[0]`: a command found through `PATH` has a bare
/// name in `argv[0]`, which would be looked up in the current directory.
public enum ProjectFiles {
    /// The directory holding `name` (`sql`, `config`), or `nil` when none is found.
    public static func directory(_ name: String) -> String? {
        candidates().lazy.map { ($0 as NSString).appendingPathComponent(name) }.first(where: isDirectory)
    }

    /// Where the resources were looked for, for an error message that says so.
    static var searched: [String] { candidates() }

    /// The running executable's directory, symbolic links resolved.
    public static var executableDirectory: URL {
        let path =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? ""
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// `BIN/../share/eticket`, the installed layout's resources, when it exists.
    static var installedShare: String? {
        let share = executableDirectory.deletingLastPathComponent().appendingPathComponent("share/eticket").path
        return isDirectory(share) ? share : nil
    }

    /// The installed layout's configuration file, `/etc/eticket/config.json` for `/usr/bin/eticket`
    /// (`ROOT/etc/eticket/config.json` in a staging root), when the executable runs from an
    /// installed layout (`…/usr/bin` beside `…/usr/share/eticket`).
    public static var installedConfigFile: String? {
        let bin = executableDirectory
        guard installedShare != nil, bin.lastPathComponent == "bin",
            bin.deletingLastPathComponent().lastPathComponent == "usr"
        else { return nil }
        return bin.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc/eticket/config.json").path
    }

    private static func candidates() -> [String] {
        var roots: [String] = []
        if let home = ProcessInfo.processInfo.environment["ETICKET_HOME"] { roots.append(home) }
        if let share = installedShare { roots.append(share) }
        var directory = executableDirectory
        for _ in 0..<6 {
            roots.append(directory.path)
            directory.deleteLastPathComponent()
        }
        roots.append(FileManager.default.currentDirectoryPath)
        return roots
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
