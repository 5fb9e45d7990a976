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

            Exit codes: 0 done, 1 failure, 2 usage error, 3 bad input data (nothing written), \
            4 database unreachable.
            """,
        subcommands: [
            Demo.self, DB.self, Structures.self, DossiersCommand.self, WorkerCommand.self, Queue.self,
            Templates.self, Outbox.self, Bench.self,
        ])
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

/// Exit codes of DESIGN.md's conventions.
enum ExitStatus {
    static let failure: Int32 = 1
    static let badInput: Int32 = 3
    static let databaseUnreachable: Int32 = 4

    static func code(for error: BackOfficeError) -> Int32 {
        switch error.code {
        case .badInput: badInput
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

func printError(_ message: String) {
    FileHandle.standardError.write(Data("eticket: \(message)\n".utf8))
}
