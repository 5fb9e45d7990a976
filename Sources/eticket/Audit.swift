import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation
import Mail

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit trail of dossier events.", subcommands: [Verify.self, Anchor.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every dossier's event chain and name the dossiers whose history was altered.",
            discussion: """
                Exit code 1 when any history does not verify, or (with --anchor) when a structure's \
                chains no longer extend the heads written earlier by `eticket audit anchor`.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure's dossiers.") var structure: String?
        @Option(help: "table or json.") var format: OutputFormat = .table
        @Option(help: "An anchor file written by `eticket audit anchor`: check that every chain extends it.")
        var anchor: String?

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let anchors = try anchor.map { path in try AuditAnchor.parse(try readAnchorFile(path), file: path) }
                let report = try administration.verifyAudit(structure: structure, anchors: anchors)
                switch format {
                case .json:
                    print(try json(report))
                case .table:
                    print("\(counted(report.events, "event")) of \(counted(report.dossiers, "dossier")) checked")
                    if !report.breaks.isEmpty {
                        var table = Table(headers: ["DOSSIER", "EVENT", "WHAT"])
                        table.rows = report.breaks.map { [$0.dossier, $0.eventID.map(String.init) ?? "", $0.reason] }
                        print(table.render())
                    }
                    if let anchors {
                        print("\(counted(anchors.count, "anchored structure")) checked")
                    }
                    if !report.anchorBreaks.isEmpty {
                        var table = Table(headers: ["STRUCTURE", "WHAT"])
                        table.rows = report.anchorBreaks.map { [$0.structure, $0.reason] }
                        print(table.render())
                    }
                }
                if !report.breaks.isEmpty {
                    throw BackOfficeError(
                        .failure,
                        "\(counted(report.breaks.count, "dossier history", "dossier histories")) \(report.breaks.count == 1 ? "does" : "do") not verify"
                    )
                }
                if !report.anchorBreaks.isEmpty {
                    throw BackOfficeError(
                        .failure, "the chains of \(counted(report.anchorBreaks.count, "structure")) no longer extend the anchor")
                }
            }
        }
    }
}

/// The anchor file's text.
private func readAnchorFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw BackOfficeError(.badInput, "\(path): cannot read the anchor file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw BackOfficeError(.badInput, "\(path): the anchor file is not UTF-8 text; a line reads \(AuditAnchor.lineForm)")
    }
    return text
}

extension Audit {
    struct Anchor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the current head of every structure's event chains, to keep outside the database.",
            discussion: """
                One line per structure: its code, its last event id, its number of events and a SHA-256 \
                over the head of each dossier's chain. Keep the file where the database's owner cannot \
                write; `eticket audit verify --anchor FILE` later names any structure whose chains no \
                longer extend it (a chain rewritten from scratch). Run it as the schema's owner.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Write to this file (created 0600; an existing symbolic link is refused) instead of standard output.")
        var to: String?

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let anchors = try administration.anchorAudit()
                guard !anchors.isEmpty else {
                    throw BackOfficeError(.failure, "nothing to anchor: no dossier has an event yet")
                }
                let text = AuditAnchor.text(of: anchors, takenAt: Date())
                guard let to else {
                    print(text, terminator: "")
                    return
                }
                try writePrivately(text, to: to)
                print("\(counted(anchors.count, "structure")) anchored in \(to)")
            }
        }

        /// Writes `text` to `path` atomically, mode 0600, never through a symbolic link nor into
        /// a file that is not this user's own (the product's one way of writing a file).
        private func writePrivately(_ text: String, to path: String) throws {
            do {
                let (directory, name) = try SafeDirectory.containing(path, create: false)
                try directory.replace(name, with: Array(text.utf8), temporary: ".\(name).tmp-\(getpid())")
            } catch {
                throw BackOfficeError(.failure, "cannot write the anchor: \(error)")
            }
        }
    }
}
