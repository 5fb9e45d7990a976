import Foundation
import LocalPostgres
import Postgres
import TestSupport
import Testing

extension Tag {
    /// The pg_auto_failover formations: `swift test --filter FailoverTests` runs them alone.
    @Tag static var failover: Self
}

/// The database server dies under a running eticket: a pg_auto_failover formation (a monitor,
/// two nodes, synchronous replication) on this machine, eticket on its multi-host connection
/// string with `target_session_attrs=read-write`, and the primary's whole "host" (its keeper's
/// process group) SIGKILLed in the middle of the work. Nothing may be lost or done twice.
///
/// Each test builds its own formation (about 30-60 s here). `ETICKET_FAILOVER_DOSSIERS` changes
/// the load (default 300).
@Suite("Failover", .serialized, .tags(.failover, .e2e, .chaos))
struct FailoverTests {
    static let size: Int = {
        guard let text = ProcessInfo.processInfo.environment["ETICKET_FAILOVER_DOSSIERS"], let size = Int(text), size >= 20
        else { return 300 }
        return size
    }()
    static var incomplete: Int { (1...size).filter(Load.isIncomplete).count }

    /// Short bounds, so that the zombie costs the test seconds.
    static let bounds = ["--statement-timeout", "10", "--commit-timeout", "3"]

    @Test func workersFinishOnThePromotedNodeAndLeaveAZombiePrimary() throws {
        let scene = try Scene()
        defer { scene.formation.stop() }
        let (formation, node1, node2, promoted) = (scene.formation, scene.node1, scene.node2, scene.second)

        let workers = try Child(
            ["worker", "--processes", "2", "--batch-size", "10", "--poll-interval", "0.2", "--database-url", formation.url]
                + Self.bounds)
        defer { workers.kill() }
        try scene.killNode1WhenAQuarterIsDecided(during: "mid-batch")
        try Self.waitUntil("every dossier decided on node2", timeout: 600) {
            (try? promoted.count("SELECT count(*) FROM dossier_queue")) == 0
        }
        workers.signal(SIGTERM)
        let ended = workers.wait(timeout: 60)
        #expect(ended.status == 0 && !ended.signaled, "\(ended.stderr.suffix(2000))")
        // The supervisor restarted nothing: its workers lived through the failover.
        #expect(!ended.stderr.contains("worker process ended"), "\(ended.stderr.suffix(2000))")
        #expect(ended.stderr.contains("worker: lost the database, reconnecting"), "\(ended.stderr.suffix(2000))")
        try expectInvariants(on: promoted, size: Self.size, incomplete: Self.incomplete, url: formation.url(node2))

        // The zombie: node1's PostgreSQL back without its keeper, a primary again in its own eyes,
        // its commits waiting for a standby that follows node2 now. New work arrives on node2.
        try formation.startZombie(node1, synchronousStandbyNames: "ANY 1 (pgautofailover_standby_2)")
        try Databases.importLines(Load.lines(count: 40, prefix: "ZB"), into: formation.url(node2))
        // A new worker tries node1 first, as the connection string lists it.
        let late = try Child(
            ["worker", "--batch-size", "10", "--poll-interval", "0.2", "--log-level", "info", "--database-url", formation.url]
                + Self.bounds)
        defer { late.kill() }
        try Self.waitUntil("the zombie's work done on node2", timeout: 300) {
            (try? promoted.count("SELECT count(*) FROM dossier_queue")) == 0
        }
        late.signal(SIGTERM)
        let lateEnded = late.wait(timeout: 60)
        let left = lateEnded.stderr.split(separator: "\n").first { $0.contains("no answer in time, left the server") }
        #expect(
            left?.contains("phase=commit") == true && left?.contains("server=\(node1.server)") == true,
            "\(lateEnded.stderr.suffix(3000))")
        #expect(lateEnded.stderr.contains("worker connected") && lateEnded.stderr.contains("server=\(node2.server)"))
        print("zombie: \(left ?? "no line")")
        let total = Self.size + 40
        try expectInvariants(on: promoted, size: total, incomplete: Self.incomplete + 8, url: formation.url(node2))

        // The exporter meets the zombie first too: it must not mail what only the zombie holds.
        let maildir = TestFiles.directory.appendingPathComponent("failover-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: maildir) }
        let export = try CLI.run(
            ["outbox", "export", "--format", "maildir", "--to", maildir, "--database-url", formation.url] + Self.bounds,
            timeout: 300)
        #expect(export.status == 0, "\(export.stderr.suffix(2000))")
        #expect(export.stderr.contains("outbox export: no answer in time, left the server"), "\(export.stderr.suffix(2000))")
        try expectEachMessageOnce(in: maildir, on: promoted)
    }

    @Test func aBatchRunAndAnExportGoOnThroughAFailover() throws {
        let scene = try Scene()
        defer { scene.formation.stop() }
        let (formation, node1, node2, first, second) = (scene.formation, scene.node1, scene.node2, scene.first, scene.second)

        let run = try Child(
            ["batch", "run", "--batch-size", "10", "--max-duration", "20m", "--database-url", formation.url] + Self.bounds)
        defer { run.kill() }
        try scene.killNode1WhenAQuarterIsDecided(during: "during batch run")
        let ran = run.wait(timeout: 600)
        #expect(ran.status == 0 && !ran.signaled, "\(ran.stderr.suffix(3000))")
        #expect(
            ran.stderr.contains("batch run reconnected") && ran.stderr.contains("server=\(node2.server)"),
            "\(ran.stderr.suffix(3000))")
        try expectInvariants(on: second, size: Self.size, incomplete: Self.incomplete, url: formation.url(node2))

        // node1 rejoins as node2's standby; then node2 dies in the middle of the export.
        try formation.restartKeeper(node1)
        try formation.waitForState(["node1": ["secondary"], "node2": ["primary"]], timeout: 240)
        let emails = try second.count("SELECT count(*) FROM email_outbox")
        let maildir = TestFiles.directory.appendingPathComponent("failover-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: maildir) }
        let export = try Child(
            ["outbox", "export", "--format", "maildir", "--to", maildir, "--batch-size", "5", "--database-url", formation.url]
                + Self.bounds)
        defer { export.kill() }
        try Self.waitUntil("a quarter exported from node2") {
            (try? second.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NOT NULL")) ?? 0 >= emails / 4
        }
        formation.kill(node2)
        let exported = export.wait(timeout: 600)
        #expect(exported.status == 0 && !exported.signaled, "\(exported.stderr.suffix(3000))")
        #expect(exported.stderr.contains("outbox export: lost the database, reconnecting"), "\(exported.stderr.suffix(3000))")
        try expectEachMessageOnce(in: maildir, on: first)
        #expect(try first.count("SELECT count(*) FROM email_outbox") == emails)
    }

    // MARK: - Helpers

    /// What both tests start from: a formation of its own (node1 the primary, node2 its
    /// synchronous standby) holding the structures and `size` dossiers, read node by node.
    /// The test stops the formation (`defer { scene.formation.stop() }`).
    private struct Scene {
        let formation: Formation
        let node1: Formation.Node
        let node2: Formation.Node
        /// node1, the primary until it is killed.
        let first: Database
        /// node2, promoted when node1 dies.
        let second: Database

        init() throws {
            formation = try Formation()
            (node1, node2) = (formation.nodes[0], formation.nodes[1])
            first = Database(conninfo: formation.url(node1))
            second = Database(conninfo: formation.url(node2))
            do {
                try Databases.prepareStructures(formation.url)
                try Databases.importLines(Load.lines(count: FailoverTests.size, prefix: "HA"), into: formation.url)
            } catch {
                formation.stop()
                throw error
            }
        }

        /// Once a quarter of the load is decided on node1, SIGKILLs node1's whole host; returns
        /// when node2 has decided something since, and prints how long that took.
        func killNode1WhenAQuarterIsDecided(during what: String) throws {
            try FailoverTests.waitUntil("a quarter decided on node1") {
                (try? first.count("SELECT count(*) FROM decisions")) ?? 0 >= FailoverTests.size / 4
            }
            let killed = ContinuousClock.now
            formation.kill(node1)
            let seconds = try FailoverTests.secondsToFirstDecision(on: second, since: killed)
            print(
                "failover: node1 killed \(what); first decision on the promoted node2 \(String(format: "%.1f", seconds)) s after the kill"
            )
        }
    }

    /// Seconds from `killed` until `node` holds a decision it did not hold when first read.
    private static func secondsToFirstDecision(on node: Database, since killed: ContinuousClock.Instant) throws -> Double {
        var baseline: Int?
        while ContinuousClock.now - killed < .seconds(600) {
            if let count = try? node.count("SELECT count(*) FROM decisions") {
                if let baseline, count > baseline { return (ContinuousClock.now - killed).secondsValue }
                if baseline == nil { baseline = count }
            }
            usleep(20_000)
        }
        throw FormationError("no decision on the promoted node within 600 s")
    }

    /// As the chaos suite: each submission one decision, each decision one email, no planning
    /// open twice, nothing parked, the audit chain verified.
    private func expectInvariants(on node: Database, size: Int, incomplete: Int, url: String) throws {
        try node.expectEachDecidedOnce(count: size, incomplete: incomplete)
        #expect(try node.count("SELECT count(*) FROM dossier_queue WHERE failed_at IS NOT NULL") == 0)
        #expect(
            try node.count(
                "SELECT count(*) FROM (SELECT child_id, service_id, period_id FROM reservation_rights GROUP BY 1, 2, 3 HAVING count(*) > 1) x"
            ) == 0)
        let audit = try CLI.run(["audit", "verify", "--database-url", url])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
    }

    /// Every email of `node` is in the Maildir once, nothing else is, and none is left pending.
    private func expectEachMessageOnce(in maildir: String, on node: Database) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new")
        var written: [String: Int] = [:]
        for file in files {
            let text = try String(contentsOfFile: "\(maildir)/new/\(file)", encoding: .utf8)
            if let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("Message-ID:") }) {
                written[line.dropFirst("Message-ID:".count).trimmingCharacters(in: .whitespaces), default: 0] += 1
            }
        }
        let kept = Set(try node.strings("SELECT '<' || message_id || '>' FROM email_outbox"))
        #expect(files.count == kept.count, "\(files.count) files for \(kept.count) emails")
        #expect(Set(written.keys) == kept)
        #expect(written.values.allSatisfy { $0 == 1 })
        #expect(try node.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == 0)
    }

    private static func waitUntil(_ what: String, timeout: Double = 300, _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return }
            usleep(20_000)
        }
        throw FormationError("timed out after \(timeout) s waiting for \(what)")
    }
}
