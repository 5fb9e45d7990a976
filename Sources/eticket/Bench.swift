import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

/// `eticket bench …`: the benchmark is a separate executable, `eticket-bench`, that the Debian
/// package does not ship (the product links no benchmark code). Like git's subcommands, eticket
/// finds it beside itself or on PATH and replaces itself with it, arguments and all (`--help`
/// included): its exit status and signals are the benchmark's own.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the pipeline: import, process, export (runs eticket-bench; see `eticket bench --help`).",
        discussion: """
            The benchmark is the separate executable eticket-bench, found beside eticket or on PATH; \
            the Debian package does not ship it. From a source checkout: \
            swift build -c release --product eticket-bench.
            """)

    // Never parsed: `ETicket.main` forwards `bench` before ArgumentParser sees it. Declared so
    // that `eticket --help` lists the command and a typo of it gets a suggestion.
    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    static let executableName = "eticket-bench"

    /// The build that puts eticket-bench where this eticket looks: beside it when it runs from a
    /// checkout's `.build/debug` or `.build/release` (`swift run eticket` builds eticket alone).
    static var howToBuild: String {
        let configuration = ProjectFiles.executableDirectory.lastPathComponent
        if ["debug", "release"].contains(configuration) {
            return "Build it beside this eticket: swift build -c \(configuration) --product \(executableName)."
        }
        return "Build it from a source checkout: swift build -c release --product \(executableName), "
            + "then put .build/release/\(executableName) on PATH or beside eticket."
    }

    /// Replaces this process with `eticket-bench arguments…`; returns only if that is impossible,
    /// with the message to print.
    static func forward(_ arguments: [String]) -> String {
        guard let bench = CompanionExecutable.locate(executableName) else {
            return "eticket bench runs the separate executable \(executableName), which is not installed beside "
                + "\(CompanionExecutable.running) nor on PATH (the Debian package does not ship it). \(howToBuild)"
        }
        setenv(CompanionExecutable.forwardingExecutableVariable, CompanionExecutable.running, 1)
        let argv = ([bench] + arguments).map { strdup($0) } + [nil]
        execv(bench, argv)
        return "cannot run \(bench): \(String(cString: strerror(errno)))"
    }
}
