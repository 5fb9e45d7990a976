import ArgumentParser
import BackOffice
import Foundation
import Logging

@main
struct ETicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eticket",
        abstract: "The back office that processes families' dossiers.",
        discussion: """
            Dossiers submitted on the family portal are imported, queued, checked by worker \
            processes against the completeness rules, and decided; families are emailed through an \
            exported outbox. The database is named the libpq way (--database-url, \
            ETICKET_DATABASE_URL, the config file, or the PG* environment).

            Exit codes: 0 done, 1 failure, 2 usage error, 3 bad input data or an unknown name \
            (nothing written), 4 database unreachable.
            """,
        subcommands: [
            Demo.self, DB.self, Structures.self, DossiersCommand.self, WorkerCommand.self, Queue.self,
            Templates.self, Outbox.self, DossierCommand.self, Decide.self, Rights.self, Planning.self,
            Reservations.self, Batch.self, Admins.self, Audit.self, Bench.self,
        ])
}

extension ETicket {
    /// ArgumentParser's own entry point, with the README's exit codes: 2 for a usage error (not
    /// sysexits' 64), and the command's own codes otherwise.
    static func main() async {
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

/// Options every command that touches the database takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "The database: a postgresql:// URI or a libpq key=value string.")
    var databaseURL: String?

    @Option(name: .customLong("config"), help: "A JSON configuration file (see config/eticket.example.json).")
    var configFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?
}

/// The exit codes every command keeps (the README lists them under Commands).
enum ExitStatus {
    static let failure: Int32 = 1
    static let badInput: Int32 = 3
    static let databaseUnreachable: Int32 = 4

    static func code(for error: BackOfficeError) -> Int32 {
        switch error.code {
        // An unknown structure, period, service, dossier or child is bad input, named in the message.
        case .badInput, .notFound: badInput
        case .databaseUnreachable: databaseUnreachable
        default: failure
        }
    }
}

/// Runs a command's body, printing a ``BackOfficeError`` as one clear message on stderr.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as BackOfficeError {
        printError(error.message)
        throw ExitCode(ExitStatus.code(for: error))
    }
}

/// Prints `message` on stderr as one line: libpq's messages span lines ("\n\tIs the server
/// running…"), and a script or a log reader expects one line per error.
func printError(_ message: String) {
    let line = message.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
        .joined(separator: " ")
    FileHandle.standardError.write(Data("eticket: \(line)\n".utf8))
}
