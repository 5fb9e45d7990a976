import ArgumentParser
import BackOffice
import CommandLineSupport
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
        version: Version.text,
        subcommands: [
            Demo.self, Doctor.self, DB.self, Structures.self, DossiersCommand.self, WorkerCommand.self, Queue.self,
            Templates.self, Outbox.self, DossierCommand.self, Decide.self, Rights.self, Planning.self,
            Reservations.self, Batch.self, Admins.self, Audit.self, Bench.self,
        ])
}

extension ETicket {
    /// ArgumentParser's own entry point, with the README's exit codes: 2 for a usage error (not
    /// sysexits' 64), and the command's own codes otherwise.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "bench" {
            printError(Bench.forward(Array(arguments.dropFirst())))
            Foundation.exit(ExitStatus.failure)
        }
        if let unknown = CommandSuggestion.unknownCommand(in: arguments) {
            FileHandle.standardError.write(Data((unknown + "\n").utf8))
            Foundation.exit(2)
        }
        await parseAndRun()
    }
}
