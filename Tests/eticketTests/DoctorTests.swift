import Foundation
import Postgres
import TestSupport
import Testing

/// `eticket doctor` catches each misconfiguration an operator can make, and says how to fix it.
@Suite("eticket doctor", .tags(.e2e))
struct DoctorTests {
    /// The user the export directory is tried as: as root, another user (the doctor then runs the
    /// probe under that user's ids, as it would for `eticket`); otherwise this user.
    static let serviceUser: String =
        geteuid() == 0 ? "postgres" : (getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "")

    /// A directory the service user owns, for the checks that are not about it.
    static func exportDirectory() throws -> String {
        let path = TestFiles.directory.appendingPathComponent("doctor-export-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if let user = getpwnam(serviceUser) { chown(path, user.pointee.pw_uid, user.pointee.pw_gid) }
        return path
    }

    /// `eticket doctor` with `arguments`, the JSON report decoded: each check's status, summary and fix by name.
    struct Report {
        var status: Int32
        var checks: [String: (status: String, summary: String, fix: String, details: [String])]
        var stderr: String

        subscript(_ name: String) -> (status: String, summary: String, fix: String, details: [String]) {
            checks[name] ?? ("absent", "", "", [])
        }
    }

    static func doctor(_ arguments: [String], exportTo: String? = nil, environment: [String: String] = [:]) throws -> Report {
        let export = try exportTo ?? exportDirectory()
        let child = try Child(
            ["doctor", "--format", "json", "--export-to", export, "--service-user", serviceUser] + arguments,
            environment: environment)
        let result = child.wait(timeout: 120)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        var checks: [String: (String, String, String, [String])] = [:]
        for check in object?["checks"] as? [[String: Any]] ?? [] {
            checks[check["name"] as? String ?? ""] = (
                check["status"] as? String ?? "", check["summary"] as? String ?? "", check["fix"] as? String ?? "",
                check["details"] as? [String] ?? []
            )
        }
        #expect((object?["ok"] as? Bool) == (result.status == 0), "\(result.stdout)")
        return Report(status: result.status, checks: checks, stderr: result.stderr)
    }

    static func execute(_ sql: String, on conninfo: String) throws {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.execute(script: sql)
    }

    @Test func aHealthyInstallationExitsZeroWithTheTableOfChecks() throws {
        let conninfo = try Databases.withStructures()
        let report = try Self.doctor(["--database-url", conninfo])
        #expect(report.status == 0, "\(report.checks)")
        for name in [
            "configuration", "templates", "database", "migrations", "roles", "search paths", "clock", "queue", "export directory",
        ] {
            #expect(report[name].status == "ok", "\(name): \(report[name])")
        }
        #expect(report["database"].summary.contains("Unix socket"))
        // The tests' databases pin the decision clock: worth a warning, not a failure.
        #expect(report["decision clock"].status == "warning")
        #expect(report["decision clock"].fix.contains("RESET eticket.clock"))

        let table = try CLI.run(
            ["doctor", "--database-url", conninfo, "--export-to", try Self.exportDirectory(), "--service-user", Self.serviceUser])
        #expect(table.status == 0)
        #expect(table.stdout.contains("✓ migrations"))
        #expect(table.stdout.contains("! decision clock"))
        #expect(table.stdout.hasSuffix("nothing to fix\n"))
    }

    @Test func aMissingOrUnreadableConfigurationFile() throws {
        let missing = try Self.doctor(["--config", "/nonexistent/eticket.json"])
        #expect(missing.status == 1)
        #expect(missing["configuration"].status == "failure")
        #expect(
            missing["configuration"].summary.contains("/nonexistent/eticket.json: no such configuration file, or not readable"))
        #expect(missing["database"].summary.hasPrefix("not checked"))

        let file = TestFiles.directory.appendingPathComponent("doctor-\(UUID().uuidString).json").path
        try Data("{}".utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o000)
        // Root reads any file: run the doctor as another user, as an operator outside the group would.
        let unreadable: CLI.Result
        if geteuid() == 0 {
            unreadable = try Child(
                ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", CLI.binary, "doctor", "--config", file],
                executable: "/usr/bin/setpriv"
            ).wait(timeout: 60)
        } else {
            unreadable = try CLI.run(["doctor", "--config", file])
        }
        #expect(unreadable.status == 1)
        #expect(unreadable.stdout.contains("✗ configuration"))
        #expect(
            unreadable.stdout.contains("fix: make \(file) readable by the service: chgrp eticket \(file) && chmod 0640 \(file)"))
    }

    @Test func aConfigurationThatIsNotJSON() throws {
        let file = TestFiles.directory.appendingPathComponent("doctor-\(UUID().uuidString).json").path
        try Data("{\n  \"worker\": {\"processes\": 2,}\n}\n".utf8).write(to: URL(fileURLWithPath: file))
        let report = try Self.doctor(["--config", file])
        #expect(report.status == 1)
        #expect(report["configuration"].status == "failure")
        #expect(report["configuration"].summary.hasPrefix("\(file):2:"), "\(report["configuration"])")
        #expect(report["configuration"].fix.contains("correct \(file)"))

        try Data(#"{"worker": {"processes": 0}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let invalid = try Self.doctor(["--config", file])
        #expect(invalid["configuration"].summary.contains("worker.processes: must be a whole number of at least 1"))
    }

    @Test func aWorldReadableConfigurationIsAWarning() throws {
        let file = TestFiles.directory.appendingPathComponent("doctor-\(UUID().uuidString).json").path
        try Data("{}".utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o644)
        let report = try Self.doctor(["--config", file, "--database-url", try Databases.withStructures()])
        #expect(report["configuration"].status == "warning")
        #expect(report["configuration"].fix.contains("chmod 0640 \(file)"))
        #expect(report.status == 0)
    }

    @Test func anUnreachableDatabase() throws {
        let report = try Self.doctor(["--database-url", "host=/nonexistent-socket-directory dbname=eticket"])
        #expect(report.status == 1)
        #expect(report["database"].status == "failure")
        #expect(report["database"].summary.contains("cannot connect to the database"))
        #expect(report["database"].fix.contains("check that the server runs"))
        #expect(report["migrations"].summary == "not checked: the database is unreachable")

        let unconfigured = try Self.doctor([])
        #expect(unconfigured["database"].summary.contains("No database is configured"))
        #expect(unconfigured["database"].fix == "name the database one of those four ways")
        #expect(unconfigured["configuration"].summary.contains("libpq's defaults (nothing configured)"))
    }

    @Test func anUnmigratedDatabase() throws {
        let report = try Self.doctor(["--database-url", try Databases.empty()])
        #expect(report.status == 1)
        #expect(report["migrations"].status == "failure")
        #expect(report["migrations"].summary.contains("not migrated"))
        #expect(report["migrations"].fix.contains("run `eticket db migrate`"))
        // What reads the schema is not checked, rather than failing on a missing table.
        #expect(report["roles"].summary == "not checked: the database is not migrated")
        #expect(report["queue"].summary == "not checked: the database is not migrated")
    }

    @Test func aMigrationChangedAfterItWasApplied() throws {
        let conninfo = try Databases.withStructures()
        try Self.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 5", on: conninfo)
        let report = try Self.doctor(["--database-url", conninfo])
        #expect(report.status == 1)
        #expect(report["migrations"].summary == "migration 005 (email_outbox) changed since it was applied")
        #expect(report["migrations"].fix.contains("restore the file(s) as released"))
    }

    @Test func aRevokedGrantAndAnUnpinnedFunction() throws {
        let conninfo = try Databases.withStructures()
        // Table privileges belong to the database (roles are the cluster's: other tests use them).
        try Self.execute(
            """
            REVOKE INSERT ON decisions FROM eticket_worker;
            REVOKE UPDATE (exported_at) ON email_outbox FROM eticket_batch;
            GRANT UPDATE ON dossier_events TO eticket_admin;
            ALTER FUNCTION administers(bigint, name) RESET search_path;
            """, on: conninfo)
        let report = try Self.doctor(["--database-url", conninfo])
        #expect(report.status == 1)
        #expect(report["roles"].status == "failure")
        #expect(report["roles"].details.contains("eticket_worker lacks INSERT on decisions"))
        #expect(report["roles"].details.contains("eticket_admin may UPDATE the audit trail (dossier_events)"))
        #expect(report["roles"].fix.contains("GRANT INSERT ON decisions TO eticket_worker;"))
        #expect(report["roles"].fix.contains("GRANT UPDATE (exported_at) ON email_outbox TO eticket_batch;"))
        #expect(report["roles"].fix.contains("REVOKE UPDATE ON dossier_events FROM eticket_admin;"))
        #expect(report["search paths"].details == ["administers(bigint,name)"])
        #expect(report["search paths"].fix.contains("SET search_path = pg_catalog, public, pg_temp"))
    }

    @Test func aBrokenTemplate() throws {
        let templates = TestFiles.directory.appendingPathComponent("doctor-templates-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CLI.root.appendingPathComponent("config/templates"), to: templates)
        let broken = templates.appendingPathComponent("dossier-processed.fr.xml")
        let text = try String(contentsOf: broken, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "</subject>", with: "</subjet>").utf8).write(to: broken)
        let file = TestFiles.directory.appendingPathComponent("doctor-\(UUID().uuidString).json").path
        try Data(#"{"templates": {"directory": "\#(templates.path)"}}"#.utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o640)
        let report = try Self.doctor(["--config", file, "--database-url", try Databases.withStructures()])
        #expect(report.status == 1)
        #expect(report["templates"].status == "failure")
        #expect(report["templates"].details.contains { $0.contains("dossier-processed.fr.xml:") }, "\(report["templates"])")
        #expect(report["templates"].fix.contains("eticket templates check --config FILE"))

        // The same configuration, through the command the fix names.
        let check = try CLI.run(["templates", "check", "--config", file])
        #expect(check.status == 3)
        #expect(check.stderr.contains("dossier-processed.fr.xml:"))
    }

    @Test func anExportDirectoryTheServiceCannotWriteOrThatIsALink() throws {
        let conninfo = try Databases.withStructures()
        let locked = TestFiles.directory.appendingPathComponent("doctor-locked-\(UUID().uuidString)").path
        // Owned by root as the doctor runs as root (tried as postgres), or read-only for this user.
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        chmod(locked, geteuid() == 0 ? 0o755 : 0o555)
        defer { chmod(locked, 0o755) }
        let unwritable = try Self.doctor(["--database-url", conninfo], exportTo: locked)
        #expect(unwritable.status == 1)
        #expect(unwritable["export directory"].status == "failure")
        #expect(unwritable["export directory"].summary.contains("cannot create"), "\(unwritable["export directory"])")
        #expect(unwritable["export directory"].fix.contains("install -d -o eticket -g eticket -m 0750 \(locked)"))

        let link = TestFiles.directory.appendingPathComponent("doctor-link-\(UUID().uuidString)").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: try Self.exportDirectory())
        let linked = try Self.doctor(["--database-url", conninfo], exportTo: link)
        #expect(linked.status == 1)
        #expect(linked["export directory"].summary.contains("symbolic link"), "\(linked["export directory"])")
        #expect(linked["export directory"].fix.contains("give the real directory"))

        if geteuid() == 0 {
            let missingUser = try Child(
                ["doctor", "--database-url", conninfo, "--service-user", "eticket-no-such-user", "--export-to", locked]
            ).wait(timeout: 60)
            #expect(missingUser.stdout.contains("✗ export directory  the service user eticket-no-such-user does not exist"))
        }
    }

    @Test func parkedAndRetriedWork() throws {
        let conninfo = try Databases.withStructures()
        try CLI.succeed(["dossiers", "import", "\(CLI.examples)/dossiers.jsonl"], database: conninfo)
        try Self.execute(
            """
            UPDATE dossier_queue SET attempts = 5, failed_at = now(), last_error = 'boom'
            WHERE id = (SELECT min(id) FROM dossier_queue);
            UPDATE dossier_queue SET attempts = 1, last_error = 'boom'
            WHERE id = (SELECT max(id) FROM dossier_queue);
            """, on: conninfo)
        let report = try Self.doctor(["--database-url", conninfo])
        #expect(report.status == 1)
        #expect(report["queue"].status == "failure")
        #expect(report["queue"].summary == "1 parked after failing every attempt, 1 being retried, 4 queued")
        #expect(report["queue"].fix.contains("eticket queue retry --all-failed"))
    }
}

extension DoctorTests {
    /// The TLS libpq negotiated is shown; TLS that does not check the server's certificate and
    /// name (a machine in the path could pose as the server) is worth a warning.
    @Test func theTLSInUseAndAnUncheckedServer() throws {
        let tls = try TLSCluster.start(addresses: ["127.0.0.1"], clientNetworks: ["127.0.0.1/32"])
        defer { tls.cluster.stop() }
        let conninfo = tls.conninfo(address: "127.0.0.1")
        try CLI.succeed(["db", "migrate"], database: conninfo)
        let verified = try Self.doctor(["--database-url", conninfo])
        #expect(verified["database"].status == "ok", "\(verified["database"])")
        #expect(verified["database"].summary.contains(", TLS TLSv1."), "\(verified["database"])")
        #expect(verified["database"].summary.hasSuffix(", sslmode=verify-full"), "\(verified["database"])")

        // A key=value conninfo: the later setting wins.
        let unchecked = try Self.doctor(["--database-url", conninfo + " sslmode=require"])
        #expect(unchecked["database"].status == "warning", "\(unchecked["database"])")
        #expect(unchecked["database"].summary.hasSuffix(", sslmode=require"))
        #expect(unchecked["database"].fix.contains("use sslmode=verify-full"))
    }
}

/// Review: a configured mail relay that cannot be used is a failure of the doctor (exit 1), not
/// something `outbox send` finds out at night.
@Suite("eticket doctor and the mail relay")
struct DoctorMailRelayTests {
    @Test func anUnreachableRelayFailsTheDoctor() throws {
        let conninfo = try Databases.withStructures()
        let config = TestFiles.directory.appendingPathComponent("doctor-relay-\(UUID().uuidString).json").path
        // Port 1 on this machine: nothing listens there.
        try Data(#"{"smtp": {"host": "127.0.0.1", "port": 1, "tls": "none", "connectTimeoutSeconds": 5}}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let report = try DoctorTests.doctor(["--config", config, "--database-url", conninfo])
        #expect(report["mail relay"].status == "failure", "\(report.checks)")
        #expect(report.status == 1, "\(report.checks)")
    }
}
