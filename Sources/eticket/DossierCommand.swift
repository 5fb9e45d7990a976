import ArgumentParser
import BackOffice
import Foundation

struct DossierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossier", abstract: "One dossier, as an administrator needs to see it.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a dossier: parts, current findings, decisions, history, rights and queue.",
            discussion: """
                Current findings are the completeness rules run now on the stored content, as a \
                worker would. Children are numbered from 1: `planning show --child ID/N` names them so.
                """)
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The dossier: external id (VLF-0001) or internal id.") var id: String
        @Option(help: "table or json.") var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let details = try administration.dossierDetails(id)
                print(format == .json ? try json(details) : renderDetails(details))
            }
        }
    }
}

func renderDetails(_ d: DossierDetails) -> String {
    let time = DateFormatter()
    time.dateFormat = "yyyy-MM-dd HH:mm"
    time.timeZone = TimeZone(identifier: "UTC")
    func when(_ date: Date?) -> String { date.map { time.string(from: $0) } ?? "-" }
    var out: [String] = []
    func section(_ title: String, _ lines: [String], empty: String = "none") {
        out.append("")
        out.append(title)
        out.append(contentsOf: lines.isEmpty ? ["  " + empty] : lines)
    }

    out.append("Dossier \(d.externalID) (id \(d.id)) — \(d.state), version \(d.version)")
    out.append("Structure   \(d.structure) (\(d.structureName))")
    out.append("Submitted   \(when(d.submittedAt)) UTC, locale \(d.locale), updated \(when(d.updatedAt)) UTC")
    out.append(
        "Account     \(d.account.firstName) \(d.account.lastName) <\(d.account.email)>")
    out.append(
        "Confirmed   \(d.confirmed ? "yes" : "NO"); terms \(d.account.termsAcceptedAt == nil ? "NOT accepted" : "accepted"), "
            + "house rules \(d.account.houseRulesAcceptedAt == nil ? "NOT accepted" : "accepted")")
    if let notes = d.notes { out.append("Notes       \(notes)") }

    var children = Table(headers: ["#", "ID", "CHILD", "BORN", "AGE", "SERVICES", "NOTES"])
    children.rows = d.children.map {
        [
            "\($0.number)", "\($0.id)", "\($0.firstName) \($0.lastName)", $0.birthDate, "\($0.age)",
            $0.services?.joined(separator: ",") ?? "all", $0.notes ?? "",
        ]
    }
    section("Children (# is N in \(d.externalID)/N)", d.children.isEmpty ? [] : [children.render()])

    section(
        "Guardians (★ payer, ✚ emergency contact)",
        d.guardians.map { g in
            let marks = (g.payer ? "★" : " ") + (g.emergencyContact ? "✚" : " ")
            let contact = [g.email, g.phone].compactMap { $0 }.joined(separator: ", ")
            var line = "  \(marks) \(g.firstName) \(g.lastName)" + (g.relationship.map { " (\($0))" } ?? "")
            line += contact.isEmpty ? " — no contact" : " — \(contact)"
            line += "\n      " + (g.address ?? "no address")
            if let notes = g.notes { line += "\n      \(notes)" }
            return line
        })
    section(
        "Trusted persons (✚ emergency contact)",
        d.trustedPersons.map { p in
            "  \(p.emergencyContact ? "✚" : " ") \(p.firstName) \(p.lastName)" + (p.relationship.map { " (\($0))" } ?? "")
                + " — \(p.phone ?? "no phone")" + (p.canPickUp ? ", may pick up" : ", may not pick up")
        })
    func file(_ document: DossierDetails.Document) -> String {
        "\(document.filename) (\(document.mediaType), \(document.size) bytes)"
    }
    section(
        "Documents",
        d.expectedDocuments.flatMap { k -> [String] in
            let head = "  \(k.required ? "required " : "suggested") \(k.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) "
            let files = d.documents.filter { $0.kind == k.kind }
            guard !files.isEmpty else { return [head + (k.required ? "MISSING" : "absent")] }
            return [head + file(files[0])] + files.dropFirst().map { String(repeating: " ", count: head.count) + file($0) }
        }
            + d.freeDocuments.map { "  free      \($0.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(file($0))" })
    section(
        "Current findings (the rules run now)",
        d.currentFindings.map { "  \($0.code.padding(toLength: 20, withPad: " ", startingAt: 0)) \($0.part): \($0.messageEN)" },
        empty: "none: the dossier is complete")

    var decisions = Table(headers: ["WHEN (UTC)", "BY", "OUTCOME", "V", "FINDINGS / REASON"])
    decisions.rows = d.decisions.map {
        [when($0.decidedAt), $0.decidedBy, $0.outcome, "\($0.version)", ($0.findings + [$0.reason].compactMap { $0 }).joined(separator: ", ")]
    }
    section("Decisions", d.decisions.isEmpty ? [] : [decisions.render()])

    var events = Table(headers: ["WHEN (UTC)", "FROM → TO", "ACTOR", "REASON"])
    events.rows = d.events.map { ["\(when($0.occurredAt))", "\($0.from ?? "-") → \($0.to)", $0.actor, $0.reason ?? ""] }
    section("History", d.events.isEmpty ? [] : [events.render()])

    var rights = Table(headers: ["CHILD", "SERVICE", "PERIOD", "OPENED (UTC)", "BY", "RESERVED"])
    rights.rows = d.rights.map {
        ["\($0.childNumber) \($0.child)", $0.service, $0.period, when($0.openedAt), $0.openedBy, "\($0.reservations)"]
    }
    section("Reservation rights", d.rights.isEmpty ? [] : [rights.render()])

    section(
        "Queue",
        d.queue.map {
            "  \($0.job)" + ($0.period.map { " (\($0))" } ?? "") + ": "
                + ($0.failedAt.map { "FAILED at \(when($0)) UTC" } ?? "due \(when($0.runAt)) UTC")
                + ", \($0.attempts) attempt\($0.attempts == 1 ? "" : "s")" + ($0.lastError.map { ", last error: \($0)" } ?? "")
        }, empty: "not queued")
    return out.joined(separator: "\n")
}
