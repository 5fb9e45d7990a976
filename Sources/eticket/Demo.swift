import ArgumentParser
import BackOffice
import Foundation
import LocalPostgres
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline on the example data.",
        discussion: """
            With no database configured, starts a throw-away local PostgreSQL (removed at the end). \
            Migrates, applies config/examples/structures.json, imports config/examples/dossiers.jsonl, \
            runs the workers until the queue is empty, prints the decisions and exports the emails to a Maildir.
            """)
    @OptionGroup var options: GlobalOptions
    @Option(help: "Where to export the emails (a Maildir; default a new temporary directory).") var outboxPath: String?
    @Flag(help: "Leave the throw-away PostgreSQL running at the end, to go on with the other commands.")
    var keep = false

    func run() async throws {
        try await reportingErrors {
            let settings = try await Settings.load(options)
            let logger = settings.bootstrapLogging()
            guard let examples = ProjectFiles.directory("config").map({ "\($0)/examples" }) else {
                throw BackOfficeError(.failure, "config/examples not found; run from the checkout or set ETICKET_HOME")
            }
            let cluster = settings.hasDatabase ? nil : try startCluster()
            defer { cluster?.stop() }
            let conninfo = cluster?.connectionString() ?? settings.conninfo
            let administration = try Administration(conninfo: conninfo, logger: logger)
            try administration.migrate()

            print("== structures")
            for (code, change) in try administration.applyStructures(file: "\(examples)/structures.json").structures {
                print("\(code): \(change.rawValue)")
            }
            print("\n== import")
            let report = try administration.importDossiers(file: "\(examples)/dossiers.jsonl")
            print("\(report.lines) lines: \(report.created) new, \(report.resubmitted) resubmitted, \(report.rejected.count) rejected")
            print("\n== queue")
            print(try render(administration.dossiers(), format: .table))

            print("\n== workers")
            let outbox = try EmailOutbox(directory: settings.templatesDirectory)
            let summary = try WorkerRunner(conninfo: conninfo, configuration: settings.worker, outbox: outbox, logger: logger)
                .drain()
            print("processed \(summary.claimed): \(describe(summary))")
            print("\n== decisions")
            print(try render(administration.dossiers(), format: .table))

            let maildir = try outboxPath ?? (makePrivateTemporaryDirectory(prefix: "eticket-demo") + "/maildir")
            let export = try administration.outbox.export(to: maildir, format: .maildir)
            print("\n== outbox")
            print("\(export.exported) emails exported to the Maildir \(export.path) (new/ holds one file per message)")
            if keep, let cluster {
                let pid = cluster.detach()
                print(
                    """

                    == the database stays up (--keep)
                    export ETICKET_DATABASE_URL="\(conninfo)"
                    stop it with: kill -INT \(pid) && rm -rf \(cluster.directory)
                    """)
            }
        }
    }

    private func startCluster() throws -> LocalCluster {
        print("no database configured: starting a throw-away PostgreSQL")
        do {
            let cluster = try LocalCluster.start()
            stopOnSignal(cluster)
            print("PostgreSQL running in \(cluster.directory)\n")
            return cluster
        } catch {
            throw BackOfficeError(.failure, error.message)
        }
    }

    /// Ctrl-C during the demo still removes the throw-away cluster.
    private func stopOnSignal(_ cluster: LocalCluster) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cluster.stop()
                Foundation.exit(130)
            }
            source.resume()
            DemoSignals.sources.append(source)
        }
    }
}

/// Keeps the demo's signal sources alive for the life of the process.
enum DemoSignals {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
}
