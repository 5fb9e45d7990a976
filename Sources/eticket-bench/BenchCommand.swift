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
            --unsafe-fast, pg_stat_statements loaded, a quarter of the memory as shared_buffers); a \
            configured database must hold no dossiers.

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
    @Option(
        help: ArgumentHelp(
            "Local cluster only: its shared_buffers, as PostgreSQL writes a size (128MB, 1GB).",
            discussion: "By default a quarter of this machine's memory, from 128MB to 1GB.",
            valueName: "size"))
    var sharedBuffers: String?
    @Option(help: "text or json.") var format: Format = .text

    func validate() throws {
        guard dossiers >= 1, workers >= 1, batch >= 1 else {
            throw ValidationError("--dossiers, --workers and --batch must be at least 1")
        }
        guard (0...1).contains(incomplete) else { throw ValidationError("--incomplete must be between 0 and 1") }
        if let sharedBuffers, !Self.isPostgresSize(sharedBuffers) {
            throw ValidationError(
                "--shared-buffers takes a size as PostgreSQL writes it, a number with kB, MB, GB or TB (512MB, 1GB), not '\(sharedBuffers)'"
            )
        }
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
            if settings.hasDatabase, sharedBuffers != nil {
                throw BackOfficeError(
                    .badInput,
                    "--shared-buffers sizes the throw-away cluster, and a database is configured: set shared_buffers on that server"
                )
            }
            let cluster: LocalCluster?
            do {
                cluster =
                    settings.hasDatabase
                    ? nil
                    : try LocalCluster.start(
                        options: .init(
                            fastUnsafe: unsafeFast,
                            extraSettings: [
                                "track_commit_timestamp": "on",
                                "shared_buffers": sharedBuffers ?? Self.defaultSharedBuffers(),
                            ], statementStatistics: true))
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

    /// The throw-away cluster's `shared_buffers`: a quarter of the memory (the container's, when
    /// its control group has a limit), as PostgreSQL's manual advises for a dedicated server,
    /// from its 128 MB default to 1 GB. With the default alone, a run of 100,000 dossiers (about
    /// 600 MB of tables) reads its pages back through the kernel: the server spent about a tenth
    /// more CPU a dossier (docs/performance.md, eighth round).
    static func defaultSharedBuffers(memory: UInt64 = availableMemory()) -> String {
        let megabytes = memory / 4 / (1 << 20)
        return "\(min(max(megabytes, 128), 1024))MB"
    }

    /// The machine's memory, or the control group's limit (cgroup v2 `memory.max`) when lower.
    static func availableMemory() -> UInt64 {
        let physical = ProcessInfo.processInfo.physicalMemory
        let limit = (try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8))
            .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return min(physical, limit ?? physical)
    }

    /// Whether `text` is a size as PostgreSQL's settings take one: digits, then B, kB, MB, GB, TB
    /// or nothing (blocks of 8 kB). PostgreSQL itself refuses one too small or too large to start with.
    static func isPostgresSize(_ text: String) -> Bool {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        return !digits.isEmpty && ["", "B", "kB", "MB", "GB", "TB"].contains(text.dropFirst(digits.count))
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
