import ArgumentParser
import BackOffice
import CommandLineSupport
import ETicketBench
import Foundation
import LocalPostgres

/// `eticket-bench`, which `eticket bench` runs: a separate executable, so that the shipped
/// `eticket` links no benchmark code.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eticket-bench",
        abstract: "Measure the pipeline: import, process, export, against speed limits measured in the same run.",
        discussion: """
            Generates N synthetic dossiers (seeded), imports them, runs W worker processes until the \
            queue is empty, exports the outbox to a Maildir, and reports each phase's count, seconds \
            and rate, the CPU each side used and the WAL written per item, the costliest statements \
            (where the server loads pg_stat_statements), the workers' peak RSS, two speed limits on \
            the same database (a plain-SQL queue loop for the processing, the same lines COPYed bare \
            into a jsonb column for the import) and the idle-queue latency. With no database \
            configured it starts a throw-away PostgreSQL (fsync and synchronous_commit on unless \
            --unsafe-fast, pg_stat_statements loaded); a configured database must hold no dossiers.

            `eticket bench …` runs this executable with the same arguments. The workers are \
            `eticket worker` processes: the eticket that ran it, else the one beside it, else on PATH.
            """)

    enum Format: String, ExpressibleByArgument { case text, json }

    @OptionGroup var options: GlobalOptions
    @Option(help: "Dossiers to generate and import.") var dossiers = 10_000
    @Option(help: "Worker processes.") var workers = 2
    @Option(help: "Dossiers per worker batch.") var batch = 100
    @Option(help: "Share of incomplete dossiers (0…1).") var incomplete = 0.3
    @Option(help: "Generator seed.") var seed: UInt64 = 1
    @Option(help: "Single imports timed for the idle-queue latency (0 skips it).") var latencySamples = 200
    @Flag(help: "Also compare the rate with 1,000,000 queued against 10,000 (takes minutes).") var depthTest = false
    @Option(help: "Rows queued for the depth test.") var depthQueued = 1_000_000
    @Flag(help: "Skip the speed limits (the plain-SQL loop and the bare COPY).") var noBaseline = false
    @Flag(help: "Local cluster only: fsync, synchronous_commit and full_page_writes off (figures not durable).")
    var unsafeFast = false
    @Option(help: "text or json.") var format: Format = .text

    func validate() throws {
        guard dossiers >= 1, workers >= 1, batch >= 1 else {
            throw ValidationError("--dossiers, --workers and --batch must be at least 1")
        }
        guard (0...1).contains(incomplete) else { throw ValidationError("--incomplete must be between 0 and 1") }
    }

    func run() async throws {
        try await reportingErrors {
            let settings = try await Settings.load(options)
            var logger = settings.bootstrapLogging()
            // The import's and workers' info lines would drown the report.
            if options.logLevel == nil { logger.logLevel = .warning }
            var bench = BenchOptions()
            bench.dossiers = dossiers
            bench.workers = workers
            bench.batchSize = batch
            bench.incompleteShare = incomplete
            bench.seed = seed
            bench.latencySamples = latencySamples
            bench.depthTest = depthTest
            bench.depthQueued = depthQueued
            bench.baseline = !noBaseline
            bench.templatesDirectory = settings.templatesDirectory
            bench.workerMode = .processes(executable: try Self.eticketExecutable())
            bench.localCluster = !settings.hasDatabase
            let cluster: LocalCluster?
            do {
                cluster =
                    settings.hasDatabase
                    ? nil
                    : try LocalCluster.start(
                        options: .init(
                            fastUnsafe: unsafeFast, extraSettings: ["track_commit_timestamp": "on"], statementStatistics: true))
            } catch {
                throw BackOfficeError(.failure, (error as? LocalPostgresError)?.message ?? "\(error)")
            }
            defer { cluster?.stop() }
            // Progress goes to stderr, so that stdout is the report alone, in either format.
            let report = try ETicketBench.Bench(
                conninfo: cluster?.connectionString() ?? settings.conninfo, options: bench, logger: logger,
                progress: { FileHandle.standardError.write(Data("… \($0)\n".utf8)) }
            ).run()
            if format == .json {
                print(try json(report))
            } else {
                print(Self.text(report))
            }
        }
    }

    /// The `eticket` whose `worker` command the benchmark runs.
    static func eticketExecutable() throws -> String {
        if let forwarding = ProcessInfo.processInfo.environment[CompanionExecutable.forwardingExecutableVariable] {
            return forwarding
        }
        guard let eticket = CompanionExecutable.locate("eticket") else {
            throw BackOfficeError(
                .failure,
                "the benchmark runs its workers as `eticket worker` processes, and no eticket is beside \(CompanionExecutable.running) nor on PATH: build it: swift build -c release --product eticket"
            )
        }
        return eticket
    }
}

extension BenchCommand {
    /// ArgumentParser's entry point with eticket's exit codes: 2 for a usage error (not sysexits'
    /// 64), the command's own otherwise.
    static func main() async {
        await parseAndRun()
    }
}
