import ArgumentParser
import BackOffice
import Foundation

/// Options every command that touches the database takes.
package struct GlobalOptions: ParsableArguments {
    package init() {}

    @Option(name: .customLong("database-url"), help: "The database: a postgresql:// URI or a libpq key=value string.")
    package var databaseURL: String?

    @Option(name: .customLong("config"), help: "A JSON configuration file (see config/eticket.example.json).")
    package var configFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    package var logLevel: String?
}

/// The exit codes every command keeps (the README lists them under Commands).
package enum ExitStatus {
    package static let failure: Int32 = 1
    package static let badInput: Int32 = 3
    package static let databaseUnreachable: Int32 = 4
    /// EX_UNAVAILABLE: the mail relay cannot be reached, or refused the session (TLS, AUTH).
    package static let relayUnavailable: Int32 = 69

    package static func code(for error: BackOfficeError) -> Int32 {
        switch error.code {
        // An unknown structure, period, service, dossier or child is bad input, named in the message.
        case .badInput, .notFound: badInput
        case .databaseUnreachable: databaseUnreachable
        case .relayUnavailable: relayUnavailable
        default: failure
        }
    }
}

/// Runs a command's body, printing a ``BackOfficeError`` as one clear message on stderr.
package func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as BackOfficeError {
        printError(error.message)
        throw ExitCode(ExitStatus.code(for: error))
    }
}

/// Prints `message` on stderr as one line: libpq's messages span lines ("\n\tIs the server
/// running…"), and a script or a log reader expects one line per error.
package func printError(_ message: String) {
    let line = message.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
        .joined(separator: " ")
    FileHandle.standardError.write(Data("eticket: \(line)\n".utf8))
}

/// Pretty, key-sorted JSON with snake_case keys (as the contracts and findings have them) and
/// ISO 8601 times.
package func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension ParsableCommand {
    /// Parses the arguments and runs the command with eticket's exit codes: 2 for a usage error
    /// (not sysexits' 64), the command's own otherwise. Both executables' `main` end here.
    package static func parseAndRun() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure || code.rawValue == 64 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
