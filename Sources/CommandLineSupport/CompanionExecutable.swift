import BackOffice
import Foundation

/// The other executable of the pair: `eticket bench` runs `eticket-bench`, git-style, and the
/// benchmark runs its workers as `eticket worker` processes.
package enum CompanionExecutable {
    /// The environment variable through which `eticket` tells `eticket-bench` which `eticket` ran
    /// it, so that the benchmark's workers are that very executable.
    package static let forwardingExecutableVariable = "ETICKET_FORWARDED_FROM"

    /// `name` beside the running executable (symbolic links resolved), else on `PATH`; `nil` when
    /// neither holds an executable file of that name.
    package static func locate(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let beside = ProjectFiles.executableDirectory.appendingPathComponent(name).path
        if isExecutableFile(beside) { return beside }
        let path = environment["PATH"] ?? ""
        for directory in path.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = (String(directory) as NSString).appendingPathComponent(name)
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// The running executable's path (`/proc/self/exe`, resolved).
    package static var running: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && access(path, X_OK) == 0
    }
}
