import ArgumentParser
import BackOffice
import CommandLineSupport
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
    let time = StructureTime(d.timeZone)
    func when(_ date: Date?) -> String { time.string(date) }
    var out: [String] = []
    func section(_ title: String, _ lines: [String], empty: String = "none") {
        out.append("")
        out.append(title)
        out.append(contentsOf: lines.isEmpty ? ["  " + empty] : lines)
    }
    /// A label as families read it, with the code an administrator types beside it.
    func labelled(_ label: String?, _ code: String) -> String {
        guard let label, label != code else { return code }
        return "\(label) (\(code))"
    }

    out.append("Dossier \(d.externalID) (id \(d.id)) — \(d.state), version \(d.version)")
    out.append(cut("Structure   \(d.structureName) (\(d.structure))", 80))
    out.append("Times       in \(d.timeZone)")
    out.append("Submitted   \(when(d.submittedAt)), locale \(d.locale)")
    out.append("Updated     \(when(d.updatedAt))")
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
    // The table keeps the codes (they fit); the labels of the codes it shows follow it.
    let askedFor = Set(d.children.flatMap { $0.services ?? [] }).sorted()
    let legend = askedFor.map { "\($0) = \(d.serviceLabels[$0] ?? $0)" }.joined(separator: ", ")
    section(
        "Children (# is N in \(d.externalID)/N)",
        d.children.isEmpty ? [] : [children.render()] + (askedFor.isEmpty ? [] : wrapped("services: " + legend, indent: "  ")))

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
        "              \(document.filename) (\(document.mediaType), \(counted(document.size, "byte")))"
    }
    section(
        "Documents",
        d.expectedDocuments.flatMap { k -> [String] in
            let files = d.documents.filter { $0.kind == k.kind }
            let state = files.isEmpty ? (k.required ? " — MISSING" : " — absent") : ""
            return [cut("  \(k.required ? "required " : "suggested") \(labelled(k.label, k.kind))\(state)", 80)] + files.map(file)
        }
            + d.freeDocuments.flatMap { ["  free      \($0.kind)", file($0)] })
    section(
        "Current findings (the rules run now, as the family reads them)",
        d.currentFindings.flatMap {
            ["  \($0.code) (\($0.part))"] + wrapped(d.locale == "en" ? $0.messageEN : $0.messageFR, indent: "      ")
        },
        empty: "none: the dossier is complete")

    var decisions = Table(headers: ["WHEN", "BY", "OUTCOME", "V", "FINDINGS / REASON"])
    decisions.rows = d.decisions.map {
        [
            when($0.decidedAt), $0.decidedBy, $0.outcome.rawValue, "\($0.version)",
            ($0.findings + [$0.reason].compactMap { $0 }).joined(separator: ", "),
        ]
    }
    section("Decisions", d.decisions.isEmpty ? [] : [decisions.render()])

    var events = Table(headers: ["WHEN", "FROM → TO", "ACTOR", "REASON"])
    events.rows = d.events.map {
        ["\(when($0.occurredAt))", "\($0.from?.rawValue ?? "-") → \($0.to)", $0.actor, $0.reason ?? ""]
    }
    section("History", d.events.isEmpty ? [] : [events.render()])

    // Grouped by period, each right on two lines: labels are long.
    let periods = d.rights.reduce(into: [String]()) { codes, right in
        if !codes.contains(right.period) { codes.append(right.period) }
    }
    section(
        "Reservation rights",
        periods.flatMap { period in
            let rights = d.rights.filter { $0.period == period }
            return [cut("  " + labelled(rights.first?.periodLabel, period), 80)]
                + rights.flatMap {
                    [
                        cut("    \($0.childNumber) \($0.child): \(labelled($0.serviceLabel, $0.service))", 80),
                        cut(
                            "        opened \(when($0.openedAt)) by \($0.openedBy), \(counted($0.reservations, "reservation"))",
                            80),
                    ]
                }
        })

    section(
        "Queue",
        d.queue.map { item in
            "  \(item.job)" + (item.period.map { " (\(labelled(item.periodLabel, $0)))" } ?? "") + ": "
                + (item.failedAt.map { "FAILED at \(when($0))" } ?? "due \(when(item.runAt))")
                + ", \(counted(item.attempts, "attempt"))" + (item.lastError.map { ", last error: \($0)" } ?? "")
        }, empty: "not queued")

    section(
        "Emails (delivery to the mail relay)",
        d.emails.map { email in
            let state: String
            switch email.delivery {
            case .sent: state = "sent \(when(email.deliveredAt))"
            case .deferred: state = "DEFERRED, next attempt \(when(email.nextAttemptAt))"
            case .failed: state = "FAILED"
            case .pending, .skipped: state = email.delivery.rawValue
            }
            let exported = email.exportedAt.map { ", exported \(when($0))" } ?? ""
            return "  \(email.id) \(email.kind), written \(when(email.createdAt)): \(state), "
                + "\(counted(email.attempts, "attempt"))\(exported)"
                + (email.reply.map { "\n      " + cut($0.replacingOccurrences(of: "\n", with: " "), 74) } ?? "")
        })
    return out.joined(separator: "\n")
}
