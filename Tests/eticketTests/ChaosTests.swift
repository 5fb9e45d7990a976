import Foundation
import LocalPostgres
import Postgres
import SeededGenerator
import TestSupport
import Testing

/// Nothing lost, nothing twice, under the failures a real installation meets: worker processes
/// killed, their connections cut by the server, PostgreSQL restarted, the exporter killed.
///
/// CI runs it at 2,000 dossiers; by hand, at any size:
/// `ETICKET_CHAOS_DOSSIERS=50000 swift test --filter ChaosTests` (and `ETICKET_CHAOS_SEED` to replay).
@Suite("Chaos", .serialized, .tags(.e2e, .chaos))
struct ChaosTests {
    static let size: Int = {
        guard let text = ProcessInfo.processInfo.environment["ETICKET_CHAOS_DOSSIERS"], let size = Int(text), size >= 20
        else { return 2_000 }
        return size
    }()
    static let seed: UInt64 = {
        ProcessInfo.processInfo.environment["ETICKET_CHAOS_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970)
    }()

    /// Workers connect under this name, so that the chaos cuts their connections and not ours.
    static let workerApplication = "eticket-chaos-worker"

    @Test func workersKilledConnectionsCutAndARestartLoseNothing() throws {
        var random = SeededRandom(seed: Self.seed)
        let cluster = try LocalCluster.start(options: .init(fastUnsafe: true))
        defer { cluster.stop() }
        let conninfo = cluster.connectionString()
        try Databases.prepareStructures(conninfo)
        try Databases.importLines(Load.lines(count: Self.size, prefix: "CHAOS"), into: conninfo)
        let database = Database(conninfo: conninfo)
        let workerURL = "\(conninfo) application_name=\(Self.workerApplication)"
        func startWorker() throws -> Child {
            try Child([
                "worker", "--poll-interval", "0.2", "--batch-size", "50", "--log-level", "warning", "--database-url", workerURL,
            ])
        }

        var workers = try (0..<4).map { _ in try startWorker() }
        defer { workers.forEach { $0.kill() } }
        var kills = 0
        var terminations = 0
        let started = ContinuousClock.now
        let deadline = started + .seconds(Self.size / 5 + 300)
        // The first blows fall as soon as the workers have decided something, however fast they
        // are: a worker killed, a connection cut, then PostgreSQL restarted under them all.
        while ContinuousClock.now < deadline, (try? database.count("SELECT count(*) FROM dossier_queue")) == Self.size {
            usleep(5_000)
        }
        workers[0].signal(SIGKILL)
        _ = workers[0].wait(timeout: 10)
        workers[0] = try startWorker()
        kills += 1
        terminations +=
            (try? database.count(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(Self.workerApplication)'"
            ))
            ?? 0
        try cluster.restart()
        while ContinuousClock.now < deadline {
            usleep(UInt32.random(in: 500_000...2_000_000, using: &random))
            let remaining = (try? database.count("SELECT count(*) FROM dossier_queue")) ?? -1
            if remaining == 0 { break }
            if Bool.random(using: &random) {
                let victim = Int.random(in: 0..<workers.count, using: &random)
                workers[victim].signal(SIGKILL)
                _ = workers[victim].wait(timeout: 10)
                workers[victim] = try startWorker()
                kills += 1
            } else {
                terminations +=
                    (try? database.count(
                        """
                        SELECT count(pg_terminate_backend(pid)) FROM (
                            SELECT pid FROM pg_stat_activity WHERE application_name = '\(Self.workerApplication)'
                            ORDER BY random() LIMIT 1) victim
                        """)) ?? 0
            }
        }
        let elapsed = (ContinuousClock.now - started).secondsValue
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers {
            let result = worker.wait(timeout: 30)
            #expect(result.status == 0 && !result.signaled, "a worker did not stop cleanly: \(result.stderr.suffix(1000))")
        }
        print(
            "chaos (seed \(Self.seed)): \(Self.size) dossiers in \(String(format: "%.1f", elapsed)) s, "
                + "\(kills) workers SIGKILLed, \(terminations) connections terminated, PostgreSQL restarted once")
        #expect(kills + terminations > 0)

        // Every submission exactly one decision, every decision exactly one email, no planning
        // opened or mailed twice, no queue row left, nothing parked as failed.
        try database.expectEachDecidedOnce(count: Self.size, incomplete: (1...Self.size).filter(Load.isIncomplete).count)
        #expect(try database.count("SELECT count(*) FROM dossiers WHERE state = 'submitted'") == 0)
        #expect(
            try database.count(
                "SELECT count(*) FROM (SELECT child_id, service_id, period_id FROM reservation_rights GROUP BY 1, 2, 3 HAVING count(*) > 1) x"
            ) == 0)
        let audit = try CLI.run(["audit", "verify", "--database-url", conninfo])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")

        // The export, killed at random points and run again until it finishes: each message once.
        let emails = try database.count("SELECT count(*) FROM email_outbox")
        let maildir = TestFiles.directory.appendingPathComponent("chaos-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: maildir) }
        var attempts = 0
        while attempts < 200 {
            attempts += 1
            let export = try Child(["outbox", "export", "--format", "maildir", "--to", maildir, "--database-url", conninfo])
            // Kills land anywhere early on, then later and later, until a run gets to finish.
            usleep(UInt32.random(in: 0...100_000, using: &random) + UInt32(attempts) * 30_000)
            export.signal(SIGKILL)
            let result = export.wait(timeout: 60)
            if !result.signaled && result.status == 0 { break }
        }
        let final = try CLI.run(["outbox", "export", "--format", "maildir", "--to", maildir, "--database-url", conninfo])
        #expect(final.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new")
        var messageIDs: [String: Int] = [:]
        for file in files {
            let text = try String(contentsOfFile: "\(maildir)/new/\(file)", encoding: .utf8)
            if let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("Message-ID:") }) {
                messageIDs[String(line), default: 0] += 1
            }
        }
        #expect(files.count == emails)
        #expect(messageIDs.count == emails && messageIDs.values.allSatisfy { $0 == 1 })
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == 0)
        print("chaos export: \(emails) messages, \(attempts) runs killed or finished, each message once")
    }
}
