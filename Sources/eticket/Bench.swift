import ArgumentParser
import ETicketBench
import BackOffice
import Foundation
import LocalPostgres

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
        guard dossiers >= 1, workers >= 1, batch >= 1 else { throw ValidationError("--dossiers, --workers and --batch must be at least 1") }
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
            bench.workerMode = .processes(executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path)
            bench.localCluster = !settings.hasDatabase
            let cluster: LocalCluster?
            do {
                cluster = settings.hasDatabase
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

    static func text(_ report: BenchReport) -> String {
        var lines = [
            "machine: \(counted(report.machine.cores, "core")), \(report.machine.memoryMiB) MiB, \(report.machine.cpu), PostgreSQL \(report.machine.postgres)",
            "database: \(report.database.localCluster ? "local throw-away cluster" : "configured"), fsync=\(report.database.fsync), synchronous_commit=\(report.database.synchronousCommit), full_page_writes=\(report.database.fullPageWrites)",
            "",
        ]
        for phase in report.phases {
            lines.append("\(phase.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(phase.count) in \(phase.seconds) s: \(Int(phase.rate))/s")
            if let cpu = phase.cpu { lines.append("           \(Self.text(cpu))") }
            if let wal = phase.walBytesPerItem { lines.append("           \(Self.text(wal: wal))") }
            if let perBatch = phase.statementsPerBatch { lines.append("           \(perBatch) statements per batch") }
            if let statements = phase.statements, !statements.isEmpty {
                lines.append("           statements, costliest first (time and WAL per item, triggers and foreign-key checks included):")
                lines += statements.map { "           \(Self.text($0))" }
            }
        }
        let outcomes = report.workers.outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
        lines.append(
            "workers: peak RSS \(report.workers.peakRSSKiB.map { "\($0 / 1024) MiB" }.joined(separator: ", ")); \(outcomes.joined(separator: ", ")); \(counted(report.workers.emails, "email"))"
        )
        if let baseline = report.baseline {
            lines.append("plain SQL: \(baseline.rows) rows in \(baseline.seconds) s: \(Int(baseline.rate))/s; processing is \(Int(baseline.ratio * 100)) % of it")
            lines += Self.costLines(baseline)
        }
        if let floor = report.importFloor {
            lines.append("bare COPY: \(floor.rows) lines in \(floor.seconds) s: \(Int(floor.rate))/s; the import is \(Int(floor.ratio * 100)) % of it")
            lines += Self.costLines(floor)
        }
        if let latency = report.latency {
            let server = latency.commitToCommitMs.map { "commit→commit p50 \($0.p50) ms, p99 \($0.p99) ms; " } ?? ""
            lines.append("latency (\(latency.samples)): \(server)client-observed p50 \(latency.clientObservedMs.p50) ms, p99 \(latency.clientObservedMs.p99) ms")
        }
        if let depth = report.depth {
            lines.append("depth: \(Int(depth.shallow.rate))/s with \(depth.shallowQueued) queued, \(Int(depth.deep.rate))/s with \(depth.deepQueued) queued: \(Int(depth.ratio * 100)) %")
            for phase in [depth.shallow, depth.deep] {
                if let cpu = phase.cpu { lines.append("           \(phase.name): \(Self.text(cpu))") }
            }
        }
        lines += report.notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }

    private static func costLines(_ limit: BenchReport.Baseline) -> [String] {
        [limit.cpu.map(Self.text), limit.walBytesPerItem.map { Self.text(wal: $0) }].compactMap { $0 }.map { "           \($0)" }
    }

    /// "  0.147 ms  22.1 %   1,123 B  ×400  WITH opened AS ( INSERT INTO reservation_rights …"
    static func text(_ statement: BenchReport.StatementCost) -> String {
        let ms = String(format: "%7.3f ms", statement.msPerItem)
        let share = String(format: "%5.1f %%", statement.share * 100)
        let wal = "\(Self.grouped(statement.walBytesPerItem)) B".leftPadded(to: 9)
        return "\(ms) \(share) \(wal)  ×\(statement.calls)  \(statement.query)"
    }

    /// "wal: 9,812 bytes each"
    static func text(wal bytes: Double) -> String {
        "wal: \(grouped(bytes)) bytes each"
    }

    /// 9812 → "9,812", whatever the locale.
    private static func grouped(_ value: Double) -> String {
        Int(value).formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
    }

    /// "cpu: server 18.2 s (0.91 ms each, alone it allows 2197/s), client 4.1 s (0.2 ms each)"
    static func text(_ cpu: BenchReport.CPU) -> String {
        let client = "client \(cpu.clientSeconds) s (\(cpu.clientMsPerItem) ms each)"
        guard let server = cpu.serverSeconds, let each = cpu.serverMsPerItem else {
            return "cpu: \(client); the server's is not measured (not on this machine)"
        }
        let bound = cpu.serverLimitedRate.map { ", alone it allows \(Int($0))/s" } ?? ""
        return "cpu: server \(server) s (\(each) ms each\(bound)), \(client)"
    }
}
