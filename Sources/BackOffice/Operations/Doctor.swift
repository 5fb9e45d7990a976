import Foundation
import Mail
import Postgres

/// One line of `eticket doctor`: what was checked, how it stands, and what to do about it.
///
/// The doctor is a list of these values, each made by a small function below; a new check (the
/// mail relay's, say) is one more function and one more line where the list is assembled.
public struct DoctorCheck: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        /// Nothing to do.
        case ok
        /// Worth knowing, not blocking: the doctor still exits 0.
        case warning
        /// Something an operator must fix: the doctor exits 1.
        case failure
    }

    /// A short name: `configuration`, `database`, `migrations`, …
    public var name: String
    public var status: Status
    /// One line: what was found.
    public var summary: String
    /// Further lines (each problem of a template, each missing grant).
    public var details: [String]
    /// What to do, for a warning or a failure.
    public var fix: String?

    public init(_ name: String, _ status: Status, _ summary: String, details: [String] = [], fix: String? = nil) {
        self.name = name
        self.status = status
        self.summary = summary
        self.details = details
        self.fix = fix
    }

    /// A check that could not run because an earlier one failed.
    public static func skipped(_ name: String, because reason: String) -> DoctorCheck {
        DoctorCheck(name, .warning, "not checked: \(reason)")
    }
}

/// The checks of `eticket doctor` that need the back office (the configuration's own check lives
/// with the command-line settings).
public enum Doctor {
    // MARK: - Templates

    /// The templates load and follow their schema, placeholders included.
    public static func templates(directory: String?) -> DoctorCheck {
        let checked: (files: [String], problems: [String])
        do {
            checked = try EmailTemplates.check(directory: directory)
        } catch {
            return DoctorCheck(
                "templates", .failure, "\(error)",
                fix: "install the package's templates (/usr/share/eticket/config/templates) or set templates.directory")
        }
        let templatesFolder = (try? EmailTemplates.directory(directory)) ?? "?"
        guard checked.problems.isEmpty else {
            return DoctorCheck(
                "templates", .failure, "\(checked.problems.count) problem(s) in \(templatesFolder)", details: checked.problems,
                fix: "correct each file at the line named (`eticket templates check --config FILE` lists them again)")
        }
        return DoctorCheck("templates", .ok, "\(checked.files.count) templates valid in \(templatesFolder)")
    }

    // MARK: - Database

    /// Connects as the commands would; the connection, when made, serves the checks that follow.
    public static func database(conninfo: String) -> (DoctorCheck, Connection?) {
        let connection: Connection
        do {
            connection = try Database.connect(conninfo, actor: "admin:doctor")
        } catch let error as BackOfficeError {
            let fix =
                error.message.contains(Database.noDatabaseConfigured)
                ? "name the database one of those four ways"
                : "check that the server runs and accepts this host and login (pg_hba.conf), and the URL's host, port, user and sslmode"
            return (DoctorCheck("database", .failure, error.message, fix: fix), nil)
        } catch {
            return (DoctorCheck("database", .failure, "\(error)", fix: "check the database URL"), nil)
        }
        guard let session = connection.session else {
            return (DoctorCheck("database", .failure, "the connection closed at once", fix: "check the server's log"), nil)
        }
        let place =
            "\(session.user)@\(session.isUnixSocket ? "socket \(session.host)" : session.host):\(session.port)/\(session.database)"
        if let tls = session.tls {
            let summary = "\(place), TLS \(tls.protocol) (\(tls.cipher)), sslmode=\(session.sslMode)"
            guard session.sslMode == "verify-full" else {
                // Encrypted, but to whoever answers: a machine in the path can pose as the server.
                return (
                    DoctorCheck(
                        "database", .warning, summary,
                        fix:
                            "use sslmode=verify-full (with sslrootcert naming the server's CA) so that libpq checks the server's certificate and name"
                    ),
                    connection
                )
            }
            return (DoctorCheck("database", .ok, summary), connection)
        }
        if session.isUnixSocket {
            return (DoctorCheck("database", .ok, "\(place), Unix socket (no TLS needed)"), connection)
        }
        let local = ["localhost", "127.0.0.1", "::1"].contains(session.host)
        return (
            DoctorCheck(
                "database", local ? .ok : .warning, "\(place), without TLS",
                fix: local
                    ? nil
                    : "add sslmode=verify-full (and sslrootcert) to the database URL: families' data crosses the network in clear"
            ),
            connection
        )
    }

    /// Whether the database holds no migration at all: the checks that read the schema would
    /// only repeat that.
    public static func isUnmigrated(_ check: DoctorCheck) -> Bool {
        check.name == "migrations" && check.summary.hasPrefix(notMigrated)
    }

    private static let notMigrated = "the database is not migrated"

    /// Every migration of `sql/` applied, none changed since, none unknown to this version.
    public static func migrations(on connection: Connection, directory: String? = nil) -> DoctorCheck {
        let statuses: [MigrationStatus]
        do {
            guard let directory = directory ?? ProjectFiles.directory("sql") else {
                return DoctorCheck(
                    "migrations", .failure, "the migrations (sql/) were not found",
                    fix: "reinstall the package (/usr/share/eticket/sql) or set ETICKET_HOME")
            }
            statuses = try Migrator(migrations: try Migration.load(directory: directory), logger: .init(label: "doctor"))
                .status(connection)
        } catch {
            return DoctorCheck(
                "migrations", .failure, "cannot read the migration history: \(error)",
                fix: "run `eticket db status` as the schema's owner")
        }
        let latest = statuses.filter { $0.state != .unknown }.last.map { "\($0.version)" } ?? "none"
        let pending = statuses.filter { $0.state == .pending }
        let changed = statuses.filter { $0.state == .changed }
        let unknown = statuses.filter { $0.state == .unknown }
        if !changed.isEmpty {
            return DoctorCheck(
                "migrations", .failure, "migration \(list(changed)) changed since it was applied",
                fix: "restore the file(s) as released (the package's /usr/share/eticket/sql): landed migrations are never edited")
        }
        if !unknown.isEmpty {
            return DoctorCheck(
                "migrations", .failure, "the database has migration \(list(unknown)), which this version does not know",
                fix: "this eticket is older than the database's schema: install the release that applied it")
        }
        if pending.count == statuses.count {
            return DoctorCheck(
                "migrations", .failure, "\(notMigrated) (no migration applied, \(statuses.count) to apply)",
                fix: "run `eticket db migrate` as the role that is to own the schema")
        }
        if !pending.isEmpty {
            return DoctorCheck(
                "migrations", .failure, "migration \(list(pending)) not applied",
                fix: "run `eticket db migrate` as the schema's owner")
        }
        return DoctorCheck("migrations", .ok, "\(statuses.count) applied, up to \(latest), none changed")
    }

    private static func list(_ statuses: [MigrationStatus]) -> String {
        statuses.map { String(format: "%03d", $0.version) + " (\($0.name))" }.joined(separator: ", ")
    }

    // MARK: - Roles and grants

    /// A privilege a job's role must hold (migrations 006, 014 to 016).
    typealias Grant = ServerInfoStore.Privilege

    /// What each job needs, one representative privilege per statement the job runs (README,
    /// "What each role may do"); `has_any_column_privilege` accepts a column grant as well as a
    /// table grant.
    static let grants: [Grant] = [
        Grant(role: "eticket_intake", privilege: "SELECT", table: "structures"),
        Grant(role: "eticket_intake", privilege: "SELECT", table: "schema_migrations"),
        Grant(role: "eticket_intake", privilege: "SELECT", table: "services", columns: "id, structure_id, code"),
        Grant(role: "eticket_intake", privilege: "INSERT", table: "accounts"),
        Grant(role: "eticket_intake", privilege: "INSERT", table: "dossiers", columns: "content"),
        Grant(role: "eticket_intake", privilege: "INSERT", table: "children"),
        Grant(role: "eticket_intake", privilege: "INSERT", table: "dossier_queue"),
        Grant(role: "eticket_worker", privilege: "SELECT", table: "dossiers"),
        Grant(role: "eticket_worker", privilege: "SELECT", table: "schema_migrations"),
        Grant(role: "eticket_worker", privilege: "UPDATE", table: "dossier_status", columns: "state, updated_at"),
        Grant(role: "eticket_worker", privilege: "INSERT", table: "decisions"),
        Grant(role: "eticket_worker", privilege: "INSERT", table: "child_period_rights"),
        Grant(role: "eticket_worker", privilege: "UPDATE", table: "child_period_rights", columns: "service_ids"),
        Grant(role: "eticket_worker", privilege: "INSERT", table: "email_outbox", columns: "particulars, template_set"),
        Grant(role: "eticket_worker", privilege: "INSERT", table: "email_template_sets", columns: "files"),
        Grant(role: "eticket_worker", privilege: "SELECT", table: "email_template_sets"),
        Grant(role: "eticket_worker", privilege: "UPDATE", table: "dossier_queue"),
        Grant(role: "eticket_worker", privilege: "DELETE", table: "dossier_queue"),
        Grant(role: "eticket_batch", privilege: "UPDATE", table: "email_outbox", columns: "exported_at"),
        Grant(
            role: "eticket_batch", privilege: "UPDATE", table: "email_outbox",
            columns: "delivery, delivery_attempts, last_attempt_at, next_attempt_at, delivered_at, delivery_reply"),
        Grant(role: "eticket_admin", privilege: "SELECT", table: "dossiers"),
        Grant(role: "eticket_admin", privilege: "INSERT", table: "decisions"),
        Grant(role: "eticket_admin", privilege: "UPDATE", table: "email_outbox", columns: "exported_at"),
        Grant(role: "eticket_admin", privilege: "INSERT", table: "email_template_sets", columns: "files"),
        Grant(role: "eticket_admin", privilege: "UPDATE", table: "dossier_queue"),
    ]

    static let jobRoles = ["eticket_intake", "eticket_worker", "eticket_batch", "eticket_admin"]

    /// The per-job roles exist, `eticket_batch` is a member of `eticket_worker`, each holds its
    /// job's privileges, none may rewrite the audit trail, and the policy helpers stay closed to
    /// `PUBLIC`.
    public static func roles(on connection: Connection) -> DoctorCheck {
        do {
            let store = ServerInfoStore(connection: connection)
            let present = try store.existingRoles(among: jobRoles)
            let missingRoles = jobRoles.filter { !present.contains($0) }
            if !missingRoles.isEmpty {
                return DoctorCheck(
                    "roles", .failure, "role \(missingRoles.joined(separator: ", ")) missing",
                    fix: "as a superuser: "
                        + missingRoles.map { ServerInfoStore.createRoleStatement($0) + ";" }.joined(separator: " ")
                        + " then give each the grants of sql/012_roles_and_isolation.sql and sql/018_outbox_delivery.sql again (`eticket doctor` lists what is missing)"
                )
            }
            var problems: [String] = []
            var statements: [String] = []
            if try !store.isMember("eticket_batch", of: "eticket_worker") {
                problems.append("eticket_batch is not a member of eticket_worker")
                statements.append(ServerInfoStore.grantMembershipStatement("eticket_worker", to: "eticket_batch"))
            }
            for grant in grants {
                if try !store.holds(grant) {
                    problems.append("\(grant.role) lacks \(grant.privilege) on \(grant.table)")
                    statements.append(ServerInfoStore.grantStatement(grant))
                }
            }
            for role in jobRoles {
                for privilege in ["UPDATE", "DELETE", "TRUNCATE"] {
                    let rewrite = Grant(role: role, privilege: privilege, table: "dossier_events")
                    if try store.holdsOnTable(rewrite) {
                        problems.append("\(role) may \(privilege) the audit trail (dossier_events)")
                        statements.append(ServerInfoStore.revokeStatement(rewrite))
                    }
                }
            }
            let open = try store.policyHelpersOpenToPublic()
            for function in open {
                problems.append("PUBLIC may execute \(function)")
                statements.append(ServerInfoStore.revokeExecuteFromPublicStatement(function))
            }
            guard problems.isEmpty else {
                return DoctorCheck(
                    "roles", .failure, "\(problems.count) grant(s) differ from the migrations'", details: problems,
                    fix: "as the schema's owner: " + statements.map { $0 + ";" }.joined(separator: " "))
            }
            return DoctorCheck("roles", .ok, "\(jobRoles.joined(separator: ", ")) hold their jobs' grants")
        } catch {
            return DoctorCheck(
                "roles", .failure, "cannot read the roles: \(error)", fix: "run doctor with a login that may read the catalog")
        }
    }

    /// Every function of the schema resolves names in the real catalog, not in what a caller's
    /// `search_path` or temporary tables put first (migration 017).
    public static func pinnedSearchPaths(on connection: Connection) -> DoctorCheck {
        do {
            let unpinned = try ServerInfoStore(connection: connection).functionsWithoutPinnedSearchPath()
            guard unpinned.isEmpty else {
                return DoctorCheck(
                    "search paths", .failure, "\(unpinned.count) function(s) without a pinned search_path", details: unpinned,
                    fix: "as the schema's owner, for each: ALTER FUNCTION <name> SET search_path = pg_catalog, public, pg_temp")
            }
            return DoctorCheck("search paths", .ok, "every function of the schema pins its search_path")
        } catch {
            return DoctorCheck(
                "search paths", .failure, "cannot read the functions: \(error)", fix: "run doctor as the schema's owner")
        }
    }

    // MARK: - Clock and queue

    /// This host's clock against the database's, and whether the decision clock is pinned.
    public static func clock(on connection: Connection, tolerance: Double = 2) -> [DoctorCheck] {
        do {
            let before = Date()
            let clocks = try ServerInfoStore(connection: connection).clocks()
            let after = Date()
            guard let (server, pinned) = clocks else { throw BackOfficeError(.failure, "no answer") }
            let local = before.addingTimeInterval(after.timeIntervalSince(before) / 2)
            let skew = server.timeIntervalSince(local)
            let skewText = String(format: "%+.3f s", skew)
            let agreement =
                abs(skew) > tolerance
                ? DoctorCheck(
                    "clock", .failure, "this host's clock and the database's differ by \(skewText)",
                    fix:
                        "synchronise both machines' clocks (chrony or systemd-timesyncd): queued work falls due by the database's"
                )
                : DoctorCheck("clock", .ok, "agrees with the database's (\(skewText))")
            let decision =
                pinned.map {
                    DoctorCheck(
                        "decision clock", .warning, "pinned to \(ISO8601DateFormatter().string(from: $0)) (eticket.clock)",
                        fix: "production leaves it unset: as the database's owner, ALTER DATABASE <name> RESET eticket.clock")
                } ?? DoctorCheck("decision clock", .ok, "the database's now() (not pinned)")
            return [agreement, decision]
        } catch {
            return [DoctorCheck("clock", .failure, "cannot read the database's clock: \(error)", fix: "check the database")]
        }
    }

    /// Work parked after its attempts ran out (an administrator's to retry) and work being retried.
    public static func queue(on connection: Connection) -> DoctorCheck {
        do {
            let health = try ServerInfoStore(connection: connection).queueHealth()
            let (parked, retrying, queued) = (health.parked, health.retrying, health.queued)
            if parked > 0 {
                return DoctorCheck(
                    "queue", .failure,
                    "\(parked) parked after failing every attempt, \(retrying) being retried, \(queued) queued",
                    fix:
                        "read the errors with `eticket queue list --state failed`, fix the cause, then `eticket queue retry --all-failed`"
                )
            }
            if retrying > 0 {
                return DoctorCheck(
                    "queue", .warning, "\(retrying) failed at least once and will be retried, \(queued) queued",
                    fix: "`eticket queue list` shows the last error of each")
            }
            return DoctorCheck("queue", .ok, "nothing parked or failing, \(queued) queued")
        } catch {
            return DoctorCheck(
                "queue", .failure, "cannot read the queue: \(error)", fix: "run doctor with the workers' login or the owner's")
        }
    }

    // MARK: - Export directory

    /// Whether the current user can write into `path` as an export does: through a
    /// ``SafeDirectory`` (no symbolic link as the last component), by creating and removing a file.
    /// A directory still missing is checked at its nearest existing parent, where the first export
    /// will create it (mode 0700).
    public static func probeDirectory(_ path: String) -> DoctorCheck {
        let name = "export directory"
        var target = path
        var missing: [String] = []
        while !FileManager.default.fileExists(atPath: target) && lstatIsMissing(target) {
            missing.insert((target as NSString).lastPathComponent, at: 0)
            let parent = (target as NSString).deletingLastPathComponent
            if parent == target || parent.isEmpty { break }
            target = parent
        }
        do {
            let directory = try SafeDirectory(target, create: false)
            var probed = [directory]
            if missing.isEmpty {
                // A Maildir's own folders are written too.
                for sub in ["tmp", "new", "cur"] where FileManager.default.fileExists(atPath: "\(path)/\(sub)") {
                    probed.append(try directory.subdirectory(sub, create: false))
                }
            }
            for directory in probed {
                let probe = ".eticket-doctor-\(getpid())"
                let file = try directory.createFile(probe)
                directory.remove(probe, ifStill: file)
                close(file)
            }
        } catch {
            return DoctorCheck(
                name, .failure, "\(path): \(error)",
                fix: "give the real directory, owned by the service user: install -d -o eticket -g eticket -m 0750 \(path)")
        }
        if !missing.isEmpty {
            return DoctorCheck(name, .ok, "\(path) will be created by the first export (\(target) is writable)")
        }
        return DoctorCheck(name, .ok, "\(path) writable")
    }

    private static func lstatIsMissing(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) != 0 && errno == ENOENT
    }
}
