import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation
import SMTP

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an installation: configuration, database, schema, roles, templates, export directory, clock, queue.",
        discussion: """
            Prints one line per check, ✓ fine, ! worth knowing, ✗ to fix, with the fix under each \
            ✗ and !. Exit 0 when nothing is to fix (warnings allowed), 1 otherwise. Run it after \
            installing or changing anything, with the service's configuration (--config, or the \
            environment of /etc/eticket/env); as root, the export directory is tried as the \
            service user.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "The export directory the service writes (the shipped batch unit's by default).")
    var exportTo = "/var/spool/eticket/Maildir"
    @Option(help: "The user the services run as.") var serviceUser = "eticket"
    @Option(help: "table or json.") var format: OutputFormat = .table
    /// Run by the doctor itself as the service user: try the directory, print the check as JSON.
    @Option(help: .hidden) var probeDirectory: String?

    /// The relay's setup as `outbox send` would run it (connect, TLS, EHLO, AUTH), nothing sent.
    static func mailRelay(_ relay: RelaySettings) -> DoctorCheck {
        let steps = MailRelay.probe(relay)
        let details = steps.map { "\($0.name): \($0.passed ? "ok" : "failed"): \($0.detail)" }
        if let failed = steps.first(where: { !$0.passed }) {
            return DoctorCheck(
                "mail relay", .failure, "\(relay.address): \(failed.name) failed: \(failed.detail)", details: details,
                fix: "check smtp.host, smtp.port, smtp.tls, smtp.caFile and smtp.credentialsFile (outbox send stops the same way)"
            )
        }
        return DoctorCheck(
            "mail relay", .ok, "\(relay.address): \(steps.map(\.name).joined(separator: ", ")) passed", details: details)
    }

    func run() async throws {
        if let probeDirectory {
            print(try json(BackOffice.Doctor.probeDirectory(probeDirectory)))
            return
        }
        var checks: [DoctorCheck] = []
        let (configuration, settings) = await Self.checkConfiguration(options)
        checks.append(configuration)
        if let settings {
            checks.append(BackOffice.Doctor.templates(directory: settings.templatesDirectory))
            if let relay = settings.relay { checks.append(Self.mailRelay(relay.relay)) }
            let (database, connection) = BackOffice.Doctor.database(conninfo: settings.conninfo)
            checks.append(database)
            if let connection {
                defer { connection.close() }
                let migrations = BackOffice.Doctor.migrations(on: connection)
                checks.append(migrations)
                if BackOffice.Doctor.isUnmigrated(migrations) {
                    let reason = "the database is not migrated"
                    checks += ["roles", "search paths"].map { DoctorCheck.skipped($0, because: reason) }
                    checks += BackOffice.Doctor.clock(on: connection)
                    checks.append(DoctorCheck.skipped("queue", because: reason))
                } else {
                    checks.append(BackOffice.Doctor.roles(on: connection))
                    checks.append(BackOffice.Doctor.pinnedSearchPaths(on: connection))
                    checks += BackOffice.Doctor.clock(on: connection)
                    checks.append(BackOffice.Doctor.queue(on: connection))
                }
            } else {
                let reason = "the database is unreachable"
                checks += ["migrations", "roles", "search paths", "clock", "queue"].map {
                    DoctorCheck.skipped($0, because: reason)
                }
            }
        } else {
            checks += ["templates", "database"].map { DoctorCheck.skipped($0, because: "the configuration is not valid") }
        }
        checks.append(Self.exportDirectory(exportTo, serviceUser: serviceUser))
        print(try Self.render(checks, format: format))
        if checks.contains(where: { $0.status == .failure }) { throw ExitCode(ExitStatus.failure) }
    }

    // MARK: - Configuration

    /// The configuration file in use (and where it was named), readable, valid, not readable by
    /// everyone (it may hold a password); then the settings it gives.
    static func checkConfiguration(_ options: GlobalOptions) async -> (DoctorCheck, Settings?) {
        let environment = ProcessInfo.processInfo.environment
        let named: (file: String, by: String)? =
            options.configFile.map { ($0, "--config") } ?? environment["ETICKET_CONFIG"].map { ($0, "ETICKET_CONFIG") }
        var installedButUnreadable: String?
        if named == nil, let installed = ProjectFiles.installedConfigFile, FileManager.default.fileExists(atPath: installed),
            access(installed, R_OK) != 0
        {
            installedButUnreadable = installed
        }
        let settings: Settings
        do {
            settings = try await Settings.load(options)
        } catch {
            let file = named?.file ?? "the configuration"
            let unreadable = named.map { access($0.file, R_OK) != 0 } ?? false
            let fix =
                unreadable
                ? "make \(file) readable by the service: chgrp eticket \(file) && chmod 0640 \(file) (and run doctor as root or a member of eticket)"
                : "correct \(file) (a JSON object with the keys of /usr/share/eticket/config/eticket.example.json)"
            return (DoctorCheck("configuration", .failure, "\(error)", fix: fix), nil)
        }
        if let installedButUnreadable {
            return (
                DoctorCheck(
                    "configuration", .warning, "\(installedButUnreadable) exists but this user cannot read it: ignored",
                    fix: "run doctor as root or as a member of the eticket group, as the service reads it"),
                settings
            )
        }
        let file = Settings.configFile(options)
        let source =
            named.map { "\($0.file) (\($0.by))" } ?? file.map { "\($0) (installed default)" }
            ?? "no file (defaults and environment)"
        var status = stat()
        if let file, stat(file, &status) == 0, status.st_mode & 0o004 != 0 {
            return (
                DoctorCheck(
                    "configuration", .warning, "\(source) is readable by every user",
                    fix: "it may hold the database's password: chgrp eticket \(file) && chmod 0640 \(file)"),
                settings
            )
        }
        return (DoctorCheck("configuration", .ok, "\(source), database from \(databaseSource(options, file: file))"), settings)
    }

    /// Which of the four ways named the database (the first found wins).
    static func databaseSource(_ options: GlobalOptions, file: String?) -> String {
        let environment = ProcessInfo.processInfo.environment
        if options.databaseURL != nil { return "--database-url" }
        if environment["ETICKET_DATABASE_URL"] != nil { return "ETICKET_DATABASE_URL" }
        if let file, let data = FileManager.default.contents(atPath: file),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            (object["database"] as? [String: Any])?["url"] != nil
        {
            return "the file's database.url"
        }
        let libpq = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"].filter { environment[$0] != nil }
        return libpq.isEmpty ? "libpq's defaults (nothing configured)" : "libpq's environment (\(libpq.joined(separator: ", ")))"
    }

    // MARK: - Export directory

    /// The export directory tried as the service user: as root, by running this executable's
    /// probe under that user's ids (setpriv); otherwise as the current user, which says so.
    static func exportDirectory(_ path: String, serviceUser: String) -> DoctorCheck {
        guard geteuid() == 0 else {
            var check = BackOffice.Doctor.probeDirectory(path)
            let me = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
            if me != serviceUser, check.status == .ok {
                check.status = .warning
                check.summary += ", for \(me): not checked as \(serviceUser)"
                check.fix = "run doctor as root to try it as \(serviceUser)"
            }
            return check
        }
        guard getpwnam(serviceUser) != nil else {
            return DoctorCheck(
                "export directory", .failure, "the service user \(serviceUser) does not exist",
                fix:
                    "install the package (its postinst creates it), or: adduser --system --group --home /var/lib/eticket \(serviceUser)"
            )
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=\(serviceUser)", "--regid=\(serviceUser)", "--init-groups", "--",
            "/proc/self/exe".resolvedExecutable, "doctor", "--probe-directory", path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            var check = try decoder.decode(DoctorCheck.self, from: data)
            check.summary += " (tried as \(serviceUser))"
            return check
        } catch {
            return DoctorCheck(
                "export directory", .failure, "could not try \(path) as \(serviceUser): \(error)",
                fix: "check that \(serviceUser) may run \("/proc/self/exe".resolvedExecutable)")
        }
    }

    // MARK: - Output

    static func render(_ checks: [DoctorCheck], format: OutputFormat) throws -> String {
        switch format {
        case .json:
            struct Report: Encodable {
                var ok: Bool
                var checks: [DoctorCheck]
            }
            return try json(Report(ok: !checks.contains { $0.status == .failure }, checks: checks))
        case .table:
            let width = checks.map(\.name.count).max() ?? 0
            var lines: [String] = []
            for check in checks {
                let mark =
                    switch check.status {
                    case .ok: "✓"
                    case .warning: "!"
                    case .failure: "✗"
                    }
                lines.append("\(mark) \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.summary)")
                for detail in check.details { lines.append("      \(detail)") }
                if let fix = check.fix { lines.append("      fix: \(fix)") }
            }
            let failures = checks.filter { $0.status == .failure }.count
            lines.append(failures == 0 ? "nothing to fix" : "\(failures) to fix")
            return lines.joined(separator: "\n")
        }
    }
}

extension String {
    /// The target of a symbolic link such as `/proc/self/exe`, or the path itself.
    fileprivate var resolvedExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: self)) ?? self
    }
}
