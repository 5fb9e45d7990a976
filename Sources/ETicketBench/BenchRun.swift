import BackOffice
import Foundation
import Logging
import Postgres
import SeededGenerator
import Synchronization

/// What `eticket bench` does; see ``Bench``.
package struct BenchOptions: Sendable {
    package var dossiers = 10_000
    package var workers = 2
    package var batchSize = 100
    /// Share of the generated dossiers that are incomplete (returned with reasons).
    package var incompleteShare = 0.3
    package var seed: UInt64 = 1
    /// Single dossiers imported one at a time with an idle worker listening; 0 skips the phase.
    package var latencySamples = 200
    /// Run the speed limits on the same database: the plain-SQL queue loop and the bare copy.
    package var baseline = true
    /// Compare the processing rate with `depthQueued` rows queued against `shallowQueued`.
    package var depthTest = false
    package var depthQueued = 1_000_000
    package var shallowQueued = 10_000
    package var workerMode: BenchWorkerMode = .threads
    package var templatesDirectory: String?
    /// Whether the database is a throw-away cluster the benchmark started (reported only).
    package var localCluster = false

    package init() {}
}

/// The benchmark in the product: generate, import, process, export, measured phase by phase, with
/// the plain-SQL speed limit, the idle-queue latency and (optionally) the depth test measured in
/// the same run on the same database.
///
/// - Important: it writes thousands of dossiers, decisions and emails: run it on a throw-away
///   database (the default), never on one that holds real families' data. It refuses a database
///   that already holds dossiers.
package struct Bench {
    let conninfo: String
    let options: BenchOptions
    let logger: Logger
    /// Told of each phase as it starts, for a progress line.
    let progress: @Sendable (String) -> Void

    package init(
        conninfo: String, options: BenchOptions, logger: Logger, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.conninfo = conninfo
        self.options = options
        self.logger = logger
        self.progress = progress
    }

    package func run() throws -> BenchReport {
        let administration = try Administration(conninfo: conninfo, actor: "admin:bench", logger: logger)
        defer { administration.close() }
        let connection = administration.connection
        try administration.migrate()
        let existing = try database("cannot count the dossiers") {
            try connection.query("SELECT count(*) AS n FROM dossiers").first?.decode(Int.self, "n") ?? 0
        }
        guard existing == 0 else {
            throw BackOfficeError(
                .badInput,
                "the benchmark needs a database without dossiers (this one holds \(existing)); use a throw-away database")
        }
        let settings = try databaseSettings(connection)
        let statements = BenchStatements.open(connection)
        defer { statements?.close() }
        let meters = BenchMeters(
            cpu: BenchCPUClock(connection: connection), wal: BenchWALMeter(connection: connection), statements: statements)
        let work = URL(fileURLWithPath: try makePrivateTemporaryDirectory(prefix: "eticket-bench"))
        defer { try? FileManager.default.removeItem(at: work) }

        var generator = BenchGenerator(seed: options.seed, incompleteShare: options.incompleteShare, prefix: "B\(options.seed)")
        let structuresPath = work.appendingPathComponent("structures.json").path
        try BenchGenerator.save(generator.structuresJSON(), to: structuresPath)
        _ = try administration.applyStructures(file: structuresPath)

        var phases: [BenchReport.Phase] = []
        var notes: [String] = []
        if statements == nil { notes.append(BenchStatements.unavailableNote) }

        progress("generate \(options.dossiers) dossiers")
        let dossiersPath = work.appendingPathComponent("dossiers.jsonl").path
        var started = ContinuousClock.now
        let incomplete = try generator.writeDossiers(count: options.dossiers, to: dossiersPath)
        phases.append(.init("generate", count: options.dossiers, seconds: (ContinuousClock.now - started).benchSeconds))
        notes.append("\(incomplete) of \(options.dossiers) generated dossiers are incomplete")

        progress("import")
        let importConnections = 2
        started = ContinuousClock.now
        var phaseStart = try meters.mark()
        let imported = try administration.importDossiers(file: dossiersPath, connections: importConnections)
        let importPhase = BenchReport.Phase(
            "import", count: imported.accepted, seconds: (ContinuousClock.now - started).benchSeconds,
            costs: meters.costs(
                from: phaseStart, to: try meters.mark(), items: imported.accepted, batch: DossierImporter.defaultBatchSize,
                client: .ownProcess))
        phases.append(importPhase)
        if !imported.rejected.isEmpty {
            throw BackOfficeError(
                .failure,
                "the generator wrote \(imported.rejected.count) lines the contract refuses, first: \(imported.rejected[0].reasons)"
            )
        }

        progress("process with \(options.workers) workers")
        started = ContinuousClock.now
        phaseStart = try meters.mark()
        let workers = try BenchWorkerSet.start(
            options.workers, mode: options.workerMode, conninfo: conninfo, batchSize: options.batchSize, once: true,
            templatesDirectory: options.templatesDirectory, logger: logger)
        try workers.wait()
        let processSeconds = (ContinuousClock.now - started).benchSeconds
        let processEnd = try meters.mark()
        let outcomes = try database("cannot count the decisions") {
            var outcomes: [String: Int] = [:]
            for row in try connection.query("SELECT outcome::text AS outcome, count(*) AS n FROM decisions GROUP BY 1") {
                outcomes[try row.decode(String.self, "outcome")] = try row.decode(Int.self, "n")
            }
            return outcomes
        }
        let decided = outcomes.values.reduce(0, +)
        let workerSide: BenchCPUClock.ClientSide =
            if case .processes = options.workerMode { .waitedChildren } else { .ownProcess }
        phases.append(
            .init(
                "process", count: decided, seconds: processSeconds,
                costs: meters.costs(
                    from: phaseStart, to: processEnd, items: decided, batch: options.batchSize, client: workerSide)))
        let (emails, dueLeft) = try database("cannot count the outbox") {
            let emails = try connection.query("SELECT count(*) AS n FROM email_outbox").first?.decode(Int.self, "n") ?? 0
            let due =
                try connection.query("SELECT count(*) AS n FROM dossier_queue WHERE failed_at IS NULL AND run_at <= now()")
                .first?.decode(Int.self, "n") ?? 0
            return (emails, due)
        }
        let workerReport = BenchReport.Workers(
            peakRSSKiB: workers.peakRSSKiB.filter { $0 > 0 }, outcomes: outcomes, emails: emails, dueLeft: dueLeft)

        progress("export \(emails) emails to a Maildir")
        let maildir = BenchFileSystem.exportDirectory(in: work)
        started = ContinuousClock.now
        phaseStart = try meters.mark()
        let export = try administration.outbox.export(to: maildir.url.path, format: .maildir)
        phases.append(
            .init(
                "export", count: export.exported, seconds: (ContinuousClock.now - started).benchSeconds,
                costs: meters.costs(
                    from: phaseStart, to: try meters.mark(), items: export.exported,
                    batch: OutboxExporter.defaultBatchSize, client: .ownProcess)))
        if let note = BenchFileSystem.journalLessNote(for: work.path, placedApart: maildir.placedApart) {
            notes.append(note)
        }

        var baseline: BenchReport.Baseline?
        var importFloor: BenchReport.Baseline?
        if options.baseline {
            // A limit is the most the server can do: the phases' aftermath is theirs, not its.
            progress("speed limits: VACUUM and CHECKPOINT first")
            if let note = try settle(connection, before: "the speed limits") { notes.append(note) }
        }
        if options.baseline, decided > 0, emails > 0 {
            let messages = try database("cannot sample the outbox") { try BenchBaseline.sampleMessages(connection) }
            progress("plain-SQL baseline: \(decided) rows, \(options.workers) connections")
            baseline = try speedLimit(
                method:
                    "SELECT … ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT B; INSERT B decisions; INSERT B outbox rows, each one of \(messages.count) of this run's outbox payloads (particulars, lz4); DELETE; COMMIT",
                connections: options.workers, batch: options.batchSize, productRate: Double(decided) / processSeconds,
                meters: meters
            ) {
                try BenchBaseline(conninfo: conninfo).run(
                    rows: decided, connections: options.workers, batchSize: options.batchSize, messages: messages)
            }
        }
        if options.baseline, importPhase.count > 0 {
            progress("import floor: the \(options.dossiers) lines copied bare, \(importConnections) connections")
            let batch = DossierImporter.defaultBatchSize
            importFloor = try speedLimit(
                method:
                    "COPY B lines as (line bigint PRIMARY KEY, content jsonb) per transaction; no contract check, no parts, no event, no queue row",
                connections: importConnections, batch: batch, productRate: importPhase.rate, meters: meters
            ) {
                try BenchImportFloor(conninfo: conninfo).run(file: dossiersPath, connections: importConnections, batchSize: batch)
            }
        }
        try? FileManager.default.removeItem(atPath: dossiersPath)

        var latency: BenchReport.Latency?
        if options.latencySamples > 0 {
            progress("idle-queue latency: VACUUM and CHECKPOINT, then \(options.latencySamples) single imports")
            if let note = try settle(connection, before: "the latency samples") { notes.append(note) }
            latency = try measureLatency(
                administration: administration, work: work.path, commitTimestamps: settings.trackCommitTimestamp == "on")
        }

        var depth: BenchReport.Depth?
        if options.depthTest {
            depth = try depthTest(administration: administration, generator: &generator, work: work.path, cpuClock: meters.cpu)
        }

        return BenchReport(
            machine: .current(postgres: try serverVersion(connection)), database: settings,
            parameters: .init(
                dossiers: options.dossiers, workers: options.workers, batch: options.batchSize,
                incomplete: options.incompleteShare, seed: options.seed),
            phases: phases, workers: workerReport, baseline: baseline, importFloor: importFloor, latency: latency, depth: depth,
            notes: notes)
    }

    /// Runs a speed limit and sets it beside the product's rate for the same work.
    private func speedLimit(
        method: String, connections: Int, batch: Int, productRate: Double, meters: BenchMeters,
        _ run: () throws -> BenchBaseline.Result
    ) throws -> BenchReport.Baseline {
        let start = try meters.mark()
        let result = try run()
        let costs = meters.costs(from: start, to: try meters.mark(), items: result.rows, batch: batch, client: .ownProcess)
        let rate = Double(result.rows) / result.seconds
        return BenchReport.Baseline(
            method: method, connections: connections, batch: batch, rows: result.rows,
            seconds: (result.seconds * 1000).rounded() / 1000, rate: rate.rounded(),
            ratio: (productRate / rate * 1000).rounded() / 1000, cpu: costs.cpu, walBytesPerItem: costs.walBytesPerItem)
    }

    // MARK: - Settling

    /// Lets the earlier phases' aftermath pass before a measurement: autovacuum working through the
    /// tables they grew, and the checkpoint writing out their dirty pages, made a commit's WAL flush
    /// wait tens of milliseconds (the latency's p50 from 12 to 50 ms in some runs of 100,000) and
    /// slowed the plain-SQL loop run after 100,000 dossiers to half its rate on a fresh database.
    ///
    /// - Parameter measurement: what comes next, for the errors and the note.
    /// - Returns: a note when the role may not checkpoint (then the flush may still overlap).
    private func settle(_ connection: Connection, before measurement: String) throws -> String? {
        try database("cannot vacuum before \(measurement)") { try connection.execute(script: "VACUUM ANALYZE") }
        do {
            try connection.execute(script: "CHECKPOINT")
            return nil
        } catch  where error.sqlState == "42501" {
            return "no CHECKPOINT before \(measurement) (the role may not: pg_checkpoint or superuser)"
        } catch {
            throw BackOfficeError(error, doing: "cannot checkpoint before \(measurement)")
        }
    }

    // MARK: - Latency

    /// Imports single dossiers one at a time while one idle worker waits on LISTEN, and measures
    /// how long each waits for its decision.
    ///
    /// Two clocks: the server's commit timestamps of the import's `submitted` event and of the
    /// decision row (both append-only, so their `xmin` is the committing transaction), which is
    /// exact and costs nothing, when `track_commit_timestamp` is on; and the client's, from the
    /// import's commit being acknowledged to the decision becoming visible to a poll every 0.5 ms.
    func measureLatency(
        administration: Administration, work: String, commitTimestamps: Bool
    ) throws -> BenchReport.Latency {
        let connection = administration.connection
        let idle = try BenchWorkerSet.start(
            1, mode: options.workerMode, conninfo: conninfo, batchSize: options.batchSize, once: false,
            templatesDirectory: options.templatesDirectory, logger: logger)
        defer { idle.stop() }
        Thread.sleep(forTimeInterval: 1) // the worker connects, drains nothing, and LISTENs
        var observed: [Double] = []
        var server: [Double] = []
        var random = SeededRandom(seed: options.seed &+ 7)
        let path = "\(work)/latency.jsonl"
        for sample in 0..<options.latencySamples {
            var single = BenchGenerator(
                seed: options.seed &+ UInt64(sample), incompleteShare: options.incompleteShare, prefix: "LAT\(options.seed)")
            _ = try single.writeDossiers(count: 1, first: sample, to: path)
            let externalID = "LAT\(options.seed)-\(sample)"
            let report = try administration.importDossiers(file: path)
            let committed = ContinuousClock.now
            guard report.accepted == 1 else { throw BackOfficeError(.failure, "latency sample \(sample) was not imported") }
            var decisionID: Int64?
            while decisionID == nil {
                decisionID = try connection.query(
                    "SELECT x.id FROM decisions x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = $1", [externalID]
                ).first?.decode(Int64.self, "id")
                if decisionID == nil {
                    if ContinuousClock.now - committed > .seconds(10) {
                        throw BackOfficeError(
                            .failure, "latency sample \(sample): no decision after 10 s; is the worker running?")
                    }
                    Thread.sleep(forTimeInterval: 0.0005)
                }
            }
            observed.append((ContinuousClock.now - committed).benchSeconds * 1000)
            if commitTimestamps, let decisionID {
                if let ms = try connection.query(
                    """
                    SELECT extract(epoch FROM pg_xact_commit_timestamp(x.xmin) - pg_xact_commit_timestamp(e.xmin))::float8 * 1000 AS ms
                    FROM decisions x JOIN dossier_events e ON e.dossier_id = x.dossier_id AND e.to_state = 'submitted'
                    WHERE x.id = $1
                    """, [decisionID]
                ).first?.decodeIfPresent(Double.self, "ms") {
                    server.append(ms)
                }
            }
            // An idle queue: let the worker go back to waiting before the next submission.
            Thread.sleep(forTimeInterval: 0.01 + Double(random.below(20)) / 1000)
        }
        return BenchReport.Latency(
            samples: observed.count,
            method:
                "after VACUUM ANALYZE and CHECKPOINT, one dossier per import transaction, one idle worker on LISTEN dossier_queue; commit-to-commit from pg_xact_commit_timestamp of the submitted event and of the decision; client-observed from the import's acknowledged commit to the decision seen by a 0.5 ms poll",
            commitToCommitMs: server.isEmpty ? nil : .init(server), clientObservedMs: .init(observed))
    }

    // MARK: - Depth

    /// Processes `shallowQueued` dossiers from a queue that holds only them, then the same number from
    /// a queue `depthQueued` deep, with the same workers and the same database, and compares the
    /// rates.
    ///
    /// Only the queue's depth differs between the two measurements: all the dossiers are imported
    /// first, then every queue row but the oldest `shallowQueued` is set aside for the shallow
    /// measurement and put back for the deep one. (Measuring the shallow queue on a database a
    /// hundred times smaller, as this test first did, also measured the cache: a million dossiers
    /// do not fit in shared_buffers, ten thousand do.) The database is vacuumed after the import,
    /// or autovacuum would spend a core on the tables it grew during the measurements.
    func depthTest(
        administration: Administration, generator: inout BenchGenerator, work: String, cpuClock: BenchCPUClock
    ) throws -> BenchReport.Depth {
        let connection = administration.connection
        let sample = options.shallowQueued
        progress("depth test: import \(options.depthQueued) dossiers")
        let path = "\(work)/deep.jsonl"
        _ = try generator.writeDossiers(count: options.depthQueued, first: 20_000_000, to: path)
        let started = ContinuousClock.now
        let imported = try administration.importDossiers(file: path)
        let importSeconds = (ContinuousClock.now - started).benchSeconds
        try? FileManager.default.removeItem(atPath: path)
        progress("depth test: vacuum after the import")
        try connection.execute(script: "VACUUM ANALYZE")

        progress("depth test: process \(sample) from a queue of \(sample)")
        try connection.query(
            """
            CREATE TEMP TABLE bench_set_aside AS
            WITH kept AS (SELECT id FROM dossier_queue ORDER BY run_at, id LIMIT $1),
            set_aside AS (DELETE FROM dossier_queue WHERE id NOT IN (SELECT id FROM kept) RETURNING *)
            SELECT * FROM set_aside
            """, [sample])
        try connection.execute(script: "VACUUM ANALYZE dossier_queue")
        var cpuStart = cpuClock.read()
        let shallow = try processInThreads(limit: sample)
        let shallowCPU = cpuClock.read().since(cpuStart, items: shallow.count, client: .ownProcess)

        try connection.execute(
            script: "INSERT INTO dossier_queue OVERRIDING SYSTEM VALUE SELECT * FROM bench_set_aside; DROP TABLE bench_set_aside")
        try connection.execute(script: "VACUUM ANALYZE dossier_queue")
        let queued = try connection.query("SELECT count(*) AS n FROM dossier_queue").first?.decode(Int.self, "n") ?? 0
        progress("depth test: process \(sample) from a queue of \(queued)")
        cpuStart = cpuClock.read()
        let deep = try processInThreads(limit: sample)
        let deepCPU = cpuClock.read().since(cpuStart, items: deep.count, client: .ownProcess)
        return BenchReport.Depth(
            method:
                "\(imported.accepted) dossiers imported, VACUUM ANALYZE; \(options.workers) worker loops (threads of the bench, the worker's own batch code) process the oldest \(sample) with every other queue row set aside, then the next \(sample) with them put back (\(queued) queued)",
            shallow: .init("process at shallow depth", count: shallow.count, seconds: shallow.seconds, cpu: shallowCPU),
            shallowQueued: sample,
            deep: .init("process at depth", count: deep.count, seconds: deep.seconds, cpu: deepCPU), deepQueued: queued,
            deepImport: .init("import", count: imported.accepted, seconds: importSeconds),
            ratio: ((Double(deep.count) / deep.seconds) / (Double(shallow.count) / shallow.seconds) * 1000).rounded() / 1000)
    }

    /// Runs the worker's batches on `options.workers` threads until `limit` dossiers are processed.
    private func processInThreads(limit: Int) throws -> (count: Int, seconds: Double) {
        let outbox = try EmailOutbox(directory: options.templatesDirectory)
        let templates = outbox.templates
        var configuration = WorkerConfiguration()
        configuration.batchSize = options.batchSize
        let processed = BenchCounter()
        let failure = FirstError()
        let started = ContinuousClock.now
        onThreads(options.workers) { [conninfo, logger, configuration] _ in
            do {
                let connection = try Database.connect(conninfo, actor: configuration.identity)
                defer { connection.close() }
                let worker = Worker(configuration: configuration, outbox: EmailOutbox(templates: templates), logger: logger)
                while processed.value < limit {
                    guard let summary = try worker.processNextBatch(on: connection) else { break }
                    processed.add(summary.claimed)
                }
            } catch {
                failure.record(error)
            }
        }
        let seconds = (ContinuousClock.now - started).benchSeconds
        if let error = failure.value { throw BackOfficeError(.failure, "a depth-test worker failed: \(error)") }
        return (processed.value, seconds)
    }

    // MARK: - Settings

    private func databaseSettings(_ connection: Connection) throws -> BenchReport.DatabaseSettings {
        try database("cannot read the server settings") {
            func show(_ name: String) throws -> String {
                try connection.query("SELECT current_setting($1) AS v", [name]).first?.decode(String.self, "v") ?? "?"
            }
            return BenchReport.DatabaseSettings(
                localCluster: options.localCluster, fsync: try show("fsync"),
                synchronousCommit: try show("synchronous_commit"), fullPageWrites: try show("full_page_writes"),
                walSyncMethod: try show("wal_sync_method"), sharedBuffers: try show("shared_buffers"),
                trackCommitTimestamp: try show("track_commit_timestamp"))
        }
    }

    private func serverVersion(_ connection: Connection) throws -> String {
        try database("cannot read the server version") {
            try connection.query("SELECT current_setting('server_version') AS v").first?.decode(String.self, "v") ?? "?"
        }
    }
}
