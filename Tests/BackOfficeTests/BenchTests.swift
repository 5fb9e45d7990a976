import BackOffice
import ETicketBench
import Foundation
import Testing

@Suite("Bench: the benchmark's own smoke test")
struct BenchTests {
    /// `dossiers` processed by one in-process worker, without the baseline and the latency.
    static func tiny(_ dossiers: Int) -> BenchOptions {
        var options = BenchOptions()
        options.dossiers = dossiers
        options.workers = 1
        options.latencySamples = 0
        options.baseline = false
        options.templatesDirectory = Fixture.templates
        options.workerMode = .threads
        return options
    }

    @Test func aTinyRunCountsEveryPhase() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = Self.tiny(200)
        options.batchSize = 50
        options.latencySamples = 3
        options.baseline = true
        let report = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()

        #expect(report.phase("generate")?.count == 200)
        #expect(report.phase("import")?.count == 200)
        #expect(report.phase("process")?.count == 200)
        #expect(report.workers.outcomes.values.reduce(0, +) == 200)
        #expect(report.workers.outcomes["returned", default: 0] > 0)
        #expect(report.workers.outcomes["validated", default: 0] > 0)
        #expect(report.workers.dueLeft == 0)
        // Every decision but those awaiting review tells the family; openings add their own email.
        #expect(report.workers.emails >= 200 - report.workers.outcomes["awaiting_review", default: 0])
        #expect(report.phase("export")?.count == report.workers.emails)
        #expect(report.baseline?.rows == 200)
        #expect((report.baseline?.rate ?? 0) > 0)
        // The import's floor copies the same 200 lines, and leaves no table behind.
        #expect(report.importFloor?.rows == 200)
        #expect((report.importFloor?.ratio ?? 0) > 0)
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT to_regclass('bench_import_floor') IS NULL", as: Bool.self) == true)
        // Nor the pg_stat_statements extension it created to read the statements' costs.
        #expect(
            try connection.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'", as: Int.self) == 0)
        #expect(report.latency?.samples == 3)
        // Measured once the earlier phases' vacuum and checkpoint are done, as the method says.
        #expect(report.latency?.method.hasPrefix("after VACUUM ANALYZE and CHECKPOINT") == true)
        #expect(!report.notes.contains { $0.contains("CHECKPOINT") })
        // The test cluster is on this machine: both sides' CPU is read. (No more can be asserted:
        // other tests run in this process and on this server at the same time, and a phase of 200
        // rows may take the server less than the one clock tick, 10 ms, that /proc counts in.)
        for cpu in [report.phase("import")?.cpu, report.phase("process")?.cpu, report.baseline?.cpu, report.importFloor?.cpu] {
            #expect((cpu?.serverSeconds ?? -1) >= 0)
            #expect((cpu?.clientSeconds ?? 0) > 0)
        }
        // Each measured phase wrote WAL: its rows, at the least.
        let wal = [
            report.phase("import")?.walBytesPerItem, report.phase("process")?.walBytesPerItem,
            report.baseline?.walBytesPerItem, report.importFloor?.walBytesPerItem,
        ]
        #expect(wal.allSatisfy { ($0 ?? 0) > 0 }, "\(wal)")
        // The test cluster loads pg_stat_statements: each phase names its costliest statements.
        let imports = report.phase("import")?.statements ?? []
        let processing = report.phase("process")?.statements ?? []
        #expect(imports.contains { $0.query.hasPrefix("COPY dossier_records") }, "\(imports)")
        // The emails' one statement stores their template set first (when the database lacks it).
        #expect(processing.contains { $0.query.contains("INSERT INTO email_template_sets") }, "\(processing)")
        #expect(!report.notes.contains { $0.hasPrefix("no per-statement costs") })
    }

    /// The JSON report's keys are snake case, as `--format json` writes them.
    @Test func theUnitKeysReadAsWritten() throws {
        let report = try Bench(conninfo: try Fixture.migratedDatabase(), options: Self.tiny(10), logger: Fixture.logger).run()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let machine = try JSONSerialization.jsonObject(with: encoder.encode(report.machine)) as? [String: Any]
        #expect(machine.map { Set($0.keys) } == ["cores", "memory_mib", "cpu", "kernel", "postgres"])
        #expect((machine?["memory_mib"] as? Int ?? 0) > 0)
        let workers = try JSONSerialization.jsonObject(with: encoder.encode(report.workers)) as? [String: Any]
        #expect(workers.map { Set($0.keys) } == ["peak_rss_kib", "outcomes", "emails", "due_left"])
        let process = try JSONSerialization.jsonObject(with: encoder.encode(report.phase("process"))) as? [String: Any]
        #expect((process?["wal_bytes_per_item"] as? Double ?? 0) > 0)
        // Without the baselines there is no import floor either.
        #expect(report.importFloor == nil)
    }

    /// The worker deletes its claimed rows in the transaction that locked them, not in a
    /// savepoint: a row locked by a transaction and deleted by its subtransaction gets a MultiXact
    /// for its xmax, PostgreSQL never marks its index entry dead, and every later claim visited
    /// the rows deleted since the last vacuum again.
    @Test func aClaimDoesNotStepOverTheRowsDeletedBeforeIt() throws {
        let conninfo = try Fixture.migratedDatabase()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        // Only the scans may clear the deleted rows' entries here, not a vacuum.
        try connection.execute(script: "ALTER TABLE dossier_queue SET (autovacuum_enabled = off)")
        var options = Self.tiny(300)
        options.batchSize = 100
        _ = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        func claimBuffers() throws -> Int {
            let plan = try #require(
                try connection.scalar(
                    """
                    EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM dossier_queue
                    WHERE failed_at IS NULL AND run_at <= now() ORDER BY run_at, id LIMIT 100 FOR UPDATE SKIP LOCKED
                    """, as: String.self))
            let root = try #require(try JSONSerialization.jsonObject(with: Data(plan.utf8)) as? [[String: Any]])
            return try #require((root.first?["Plan"] as? [String: Any])?["Shared Hit Blocks"] as? Int)
        }
        // A scan marks an entry dead once no transaction still needs its row; while one does
        // (in the test run, other tests' work on the same cluster was seen to hold it back), every scan
        // visits all 300. 72 buffer accesses once they are marked with the deletes in the
        // claiming transaction; 149 with them in a savepoint, however many scans follow and
        // however long one waits.
        var buffers = try claimBuffers()
        let deadline = ContinuousClock.now + .seconds(10)
        while buffers >= 100, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            buffers = try claimBuffers()
        }
        #expect(buffers < 100)
    }

    @Test func aTinyDepthTestProcessesTheSameNumberAtBothDepths() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = Self.tiny(10)
        options.batchSize = 25
        options.depthTest = true
        options.shallowQueued = 50
        options.depthQueued = 300
        let depth = try #require(try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run().depth)
        #expect(depth.shallow.count >= 50)
        #expect(depth.deep.count >= 50)
        // All 300 imported, the oldest 50 (or a batch more) decided with the rest set aside, and
        // every row set aside put back.
        #expect(depth.deepImport.count == 300)
        #expect((200...250).contains(depth.deepQueued))
        #expect(depth.ratio > 0)
        #expect((depth.deep.cpu?.serverSeconds ?? 0) > 0)
    }

    @Test func theSameSeedGeneratesTheSameDossiers() throws {
        let conninfo = try Fixture.migratedDatabase()
        let options = Self.tiny(20)
        let first = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        let again = try Bench(conninfo: try Fixture.migratedDatabase(), options: options, logger: Fixture.logger).run()
        #expect(first.workers.outcomes == again.workers.outcomes)
        #expect(first.notes == again.notes)
    }

    @Test func aDatabaseWithDossiersIsRefused() throws {
        let conninfo = try Fixture.migratedDatabase()
        let options = Self.tiny(5)
        _ = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        #expect(throws: BackOfficeError.self) {
            try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        }
    }
}

@Suite("Bench: the note on ext4 without a journal")
struct BenchFileSystemTests {
    /// A sysfs tree holding one block device `vdz` (254:7) whose ext4 journal task reads `task`.
    static func sysfs(journalTask task: String?) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sysfs-\(UUID().uuidString)").path
        let manager = FileManager.default
        try manager.createDirectory(atPath: "\(root)/dev/block", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: "\(root)/devices/virtio1/block/vdz", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: "\(root)/dev/block/254:7", withDestinationPath: "../../devices/virtio1/block/vdz")
        if let task {
            try manager.createDirectory(atPath: "\(root)/fs/ext4/vdz", withIntermediateDirectories: true)
            try Data((task + "\n").utf8).write(to: URL(fileURLWithPath: "\(root)/fs/ext4/vdz/journal_task"))
        }
        return root
    }

    /// Each run's Maildir gets a new random name, in a work directory marked as a top directory
    /// where the file system keeps that flag (ext4 here): ext4 then places it away from the inodes
    /// an earlier run's cleanup freed.
    @Test func eachRunsMaildirIsPlacedApart() throws {
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("bench-work-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        #expect(!BenchFileSystem.isTopDirectory(work.path))
        let first = BenchFileSystem.exportDirectory(in: work)
        let second = BenchFileSystem.exportDirectory(in: work)
        #expect(first.url.deletingLastPathComponent().path == work.path)
        #expect(first.url.lastPathComponent.hasPrefix("maildir-") && first.url != second.url)
        #expect(first.placedApart == BenchFileSystem.isTopDirectory(work.path))
        #expect(!FileManager.default.fileExists(atPath: first.url.path), "the exporter creates it")
        #expect(BenchFileSystem.journalLessNote(for: work.path, placedApart: true) == nil)
    }

    @Test func ext4WithoutAJournalGetsTheNote() throws {
        let root = try Self.sysfs(journalTask: "<none>")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let note = try #require(BenchFileSystem.journalLessNote(major: 254, minor: 7, sysfs: root))
        #expect(note.contains("ext4 without a journal (vdz)"))
    }

    @Test func ext4WithAJournalOrAnotherFileSystemGetsNone() throws {
        for task in ["jbd2/vdz-8", nil] {
            let root = try Self.sysfs(journalTask: task)
            defer { try? FileManager.default.removeItem(atPath: root) }
            #expect(BenchFileSystem.journalLessNote(major: 254, minor: 7, sysfs: root) == nil)
            #expect(BenchFileSystem.journalLessNote(major: 254, minor: 8, sysfs: root) == nil)
        }
    }

    /// The dev_t is decoded as the kernel numbers it: /proc/self/mountinfo's `major:minor` of `/`
    /// (the last mount there is the one seen; btrfs gives each subvolume a device of its own).
    @Test func theDeviceNumbersAreTheKernels() throws {
        let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let root = try #require(mountinfo.split(separator: "\n").map { $0.split(separator: " ") }.last { $0[4] == "/" })
        guard !root.contains("btrfs") else { return }
        let numbers = try #require(BenchFileSystem.deviceNumbers(of: "/"))
        #expect("\(numbers.major):\(numbers.minor)" == root[2])
    }
}
