import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation
import LocalPostgres
import Logging
import Postgres

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline on the example data.",
        discussion: """
            Starts a throw-away local PostgreSQL (removed at the end), whatever database the \
            environment or the configuration names: the demo writes example families and must never \
            land in real data. Migrates, applies config/examples/structures.json, imports \
            config/examples/dossiers.jsonl, runs the workers until the queue is empty, prints the \
            decisions and exports the emails to a Maildir. The examples' dates are fixed: the \
            demo's database decides as on their day, 2026-12-03 (its eticket.clock), whatever the date.

            With --database-url on its command line, the demo uses that database instead, and only if \
            it is empty or was made by an earlier demo and holds nothing but the examples.
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
            // Only a database named on this command line is the demo's to use: one that the
            // environment or the configuration names is the operator's real one.
            let given = options.databaseURL
            if given == nil && settings.hasDatabase {
                print("a database is configured (ETICKET_DATABASE_URL, the configuration or PG*): the demo leaves it alone")
            }
            let cluster = given == nil ? try startCluster() : nil
            defer { cluster?.stop() }
            let conninfo = cluster?.connectionString() ?? given ?? ""
            print("database: \(describeDatabase(conninfo))\(cluster.map { " (throw-away, in \($0.directory))" } ?? "")\n")
            let setup = try Administration(conninfo: conninfo, logger: logger)
            if cluster == nil { try setup.claimForDemo(try Administration.DemoExamples(directory: examples)) }
            try setup.migrate()
            // The examples' dates are fixed: the demo tells their story as on their day. The clock
            // is the database's setting, which sessions read from their start: connect again.
            try setup.pinDecisionClock(at: Administration.demoStoryInstant)
            setup.close()
            let administration = try Administration(conninfo: conninfo, logger: logger)
            print("clock: \(Administration.demoStoryInstant), the examples' day (eticket.clock)\n")

            print("== structures")
            for (code, change) in try administration.applyStructures(file: "\(examples)/structures.json").structures {
                print("\(code): \(change.rawValue)")
            }
            print("\n== import")
            let report = try administration.importDossiers(file: "\(examples)/dossiers.jsonl")
            print(
                "\(counted(report.lines, "line")): \(report.created) new, \(report.resubmitted) resubmitted, \(report.rejected.count) rejected"
            )
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
            print("\(counted(export.exported, "email")) exported to the Maildir \(export.path) (new/ holds one file per message)")
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

    /// Host, port, database and user of a conninfo, as libpq reads it; never the password.
    private func describeDatabase(_ conninfo: String) -> String {
        guard let settings = try? Connection.conninfoSettings(conninfo) else { return "(a connection string libpq cannot read)" }
        return ["host", "port", "dbname", "user"].compactMap { key in settings[key].map { "\(key)=\($0)" } }.joined(
            separator: " ")
    }

    private func startCluster() throws -> LocalCluster {
        print("starting a throw-away PostgreSQL")
        do {
            let cluster = try LocalCluster.start()
            stopOnSignal(cluster)
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
