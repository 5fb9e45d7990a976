import Foundation
import Postgres
import SMTPTestRelay
import TestSupport
import Testing

/// Every command the README's "What each role may do" lists, run as the built `eticket` by a login
/// role that is a member of the group role listed for it (migration 014), never as the owner
/// unless the README says so.
@Suite("Each command runs as the role the README gives it", .serialized, .tags(.e2e))
struct RolesTests {
    /// The README's table: role → the commands it runs.
    static func documentedCommands() throws -> [String: Set<String>] {
        let readme = try String(contentsOf: CLI.root.appendingPathComponent("README.md"), encoding: .utf8)
        // The section's heading, at whatever level the README puts it.
        guard let section = readme.range(of: #"\n#+ What each role may do\n"#, options: .regularExpression) else {
            Issue.record("README.md has no \"What each role may do\" section")
            return [:]
        }
        var commands: [String: Set<String>] = [:]
        for line in readme[section.upperBound...].split(separator: "\n").prefix(while: { !$0.hasPrefix("#") }) {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let quoted = { (cell: String) in
                cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map {
                    String($0.element)
                }
            }
            guard cells.count > 3, let role = quoted(cells[1]).first else { continue }
            guard role.hasPrefix("eticket_") || role == "owner" else { continue }
            commands[role] = Set(quoted(cells[2]))
        }
        return commands
    }

    struct Invocation {
        var role: String
        var command: String
        var arguments: [String]
    }

    /// The documented commands with real arguments, in an order that leaves each something to do.
    /// `{admin}` stands for the administrator's login, `{email}` for an email's outbox id, `{day}`
    /// and `{month}` for a Monday of the example period (kept ahead of today by the test).
    static func invocations(_ work: URL) -> [Invocation] {
        let examples = CLI.examples
        let anchor = work.appendingPathComponent("anchor").path
        var list: [Invocation] = [
            .init(role: "owner", command: "db migrate", arguments: ["db", "migrate"]),
            .init(role: "owner", command: "db status", arguments: ["db", "status"]),
            .init(role: "owner", command: "structures apply", arguments: ["structures", "apply", "\(examples)/structures.json"]),
            .init(
                role: "owner", command: "structures retention",
                arguments: ["structures", "retention", "villefranche", "--days", "365"]),
            .init(
                role: "owner", command: "admins grant", arguments: ["admins", "grant", "{admin}", "--structure", "villefranche"]),
            .init(role: "owner", command: "admins list", arguments: ["admins", "list"]),
            .init(
                role: "eticket_intake", command: "dossiers import",
                arguments: ["dossiers", "import", "\(examples)/dossiers.jsonl"]),
            .init(role: "eticket_worker", command: "worker", arguments: ["worker", "--once"]),
            .init(role: "eticket_admin", command: "queue list", arguments: ["queue", "list"]),
            .init(role: "eticket_admin", command: "queue stats", arguments: ["queue", "stats"]),
            .init(role: "eticket_admin", command: "queue retry", arguments: ["queue", "retry", "--all-failed"]),
            .init(role: "eticket_admin", command: "dossier show", arguments: ["dossier", "show", "VLF-0001"]),
            .init(
                role: "eticket_admin", command: "planning show",
                arguments: ["planning", "show", "--child", "VLF-0001/1", "--month", "{month}"]),
            .init(
                role: "eticket_admin", command: "rights open",
                arguments: ["rights", "open", "--structure", "villefranche", "--period", "2026-2027"]),
            .init(
                role: "eticket_admin", command: "reservations add",
                arguments: ["reservations", "add", "--child", "VLF-0001/1", "--service", "cantine", "--date", "{day}"]),
            .init(
                role: "eticket_admin", command: "reservations remove",
                arguments: ["reservations", "remove", "--child", "VLF-0001/1", "--service", "cantine", "--date", "{day}"]),
            .init(
                role: "eticket_admin", command: "decide",
                arguments: ["decide", "VLF-0001", "return", "--by", "Marie Curie", "--reason", "Attestation illisible"]),
            .init(role: "eticket_admin", command: "outbox list", arguments: ["outbox", "list"]),
            .init(role: "eticket_admin", command: "outbox show", arguments: ["outbox", "show", "{email}"]),
            .init(
                role: "eticket_admin", command: "templates preview",
                arguments: ["templates", "preview", "dossier-processed", "--dossier", "VLF-0001"]),
            .init(
                role: "eticket_admin", command: "outbox export",
                arguments: [
                    "outbox", "export", "--structure", "villefranche", "--format", "eml", "--to",
                    work.appendingPathComponent("eml").path,
                ]),
            .init(
                role: "eticket_batch", command: "batch run",
                arguments: ["batch", "run", "--max-duration", "1m", "--export-to", work.appendingPathComponent("Maildir").path]),
            .init(role: "eticket_batch", command: "outbox send", arguments: ["outbox", "send", "--config", "{relay}"]),
            .init(
                role: "eticket_batch", command: "outbox export",
                arguments: ["outbox", "export", "--format", "mbox", "--to", work.appendingPathComponent("mbox").path]),
            .init(role: "owner", command: "audit verify", arguments: ["audit", "verify"]),
            .init(role: "owner", command: "audit anchor", arguments: ["audit", "anchor", "--to", anchor]),
            .init(
                role: "owner", command: "dossiers purge",
                arguments: ["dossiers", "purge", "--returned-before", "2000-01-01", "--dry-run"]),
            .init(
                role: "owner", command: "admins revoke",
                arguments: ["admins", "revoke", "{admin}", "--structure", "villefranche"]),
        ]
        list.insert(
            .init(role: "owner", command: "audit verify", arguments: ["audit", "verify", "--anchor", anchor]), at: list.count - 1)
        return list
    }

    @Test func everyDocumentedCommandRunsAsItsDocumentedRole() throws {
        let conninfo = try TestDatabases.shared().create()
        let owner = try Connection(conninfo)
        defer { owner.close() }
        let suffix = UUID().uuidString.prefix(8).lowercased()
        var logins: [String: String] = ["owner": conninfo]
        // The group roles come with the migrations: create them before the logins that join them.
        _ = try CLI.succeed(["db", "migrate"], database: conninfo)
        for group in ["eticket_intake", "eticket_worker", "eticket_batch", "eticket_admin"] {
            let login = "\(group.dropFirst("eticket_".count))_\(suffix)"
            try owner.execute(script: "CREATE ROLE \(login) LOGIN IN ROLE \(group)")
            logins[group] = "\(conninfo) user=\(login)"
        }
        let admin = "admin_\(suffix)"
        let work = TestFiles.directory.appendingPathComponent("eticket-roles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)

        let relay = try TestRelay()
        let relayConfig = try relay.configFile()
        let documented = try Self.documentedCommands()
        let planned = Self.invocations(work)
        for role in Set(planned.map(\.role)).union(documented.keys) {
            #expect(
                Set(planned.filter { $0.role == role }.map(\.command)) == documented[role] ?? [],
                "README and test disagree on what \(role) runs")
        }
        // A Monday (cantine runs, no closed date falls on one) from the period's start or today on.
        let day = try #require(
            try owner.query(
                """
                SELECT to_char(d + (8 - extract(isodow FROM d)::int) % 7, 'YYYY-MM-DD') AS day
                FROM (SELECT greatest(current_date, DATE '2026-09-01') AS d) AS start
                """
            ).first?.decode(String.self, "day"))
        for invocation in planned {
            let email = try owner.query("SELECT min(id)::text AS id FROM email_outbox").first?.decodeIfPresent(String.self, "id")
            let placeholders = [
                "{relay}": relayConfig, "{admin}": admin, "{email}": email ?? "none", "{day}": day,
                "{month}": String(day.prefix(7)),
            ]
            let arguments = invocation.arguments.map { placeholders[$0] ?? $0 }
            let result = try CLI.run(arguments + ["--database-url", try #require(logins[invocation.role])])
            #expect(
                result.status == 0 && !result.signaled,
                "eticket \(arguments.joined(separator: " ")) as \(invocation.role) exited \(result.status): \(result.stderr.suffix(1500))"
            )
            if invocation.command == "structures apply" {
                // The example period, kept open past that Monday whatever today is, so that rights open.
                try owner.query(
                    "UPDATE periods SET ends_on = greatest(ends_on, $1::date + 30) WHERE code = '2026-2027'", [day])
            }
            if invocation.command == "admins grant" {
                // The admin login is the eticket_admin member made above; map it to saint-amour too.
                _ = try CLI.succeed(["admins", "grant", admin, "--structure", "saint-amour"], database: conninfo)
            }
        }
        // The work was done by the roles: a decision by the worker's login, one by the administrator's.
        let decidedBy = try owner.query("SELECT DISTINCT login_role FROM decisions ORDER BY 1").map {
            try $0.decode(String.self, "login_role")
        }
        #expect(decidedBy == [admin, "worker_\(suffix)"].sorted())
        // The batch login sent the outbox to the relay.
        #expect(
            try owner.query("SELECT count(*) AS n FROM email_outbox WHERE delivery = 'sent'").first?.decode(Int.self, "n") ?? 0
                > 0)
        #expect(!relay.received.isEmpty)
    }
}
