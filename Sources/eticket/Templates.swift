import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Templates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The XML email templates of config/templates.", subcommands: [Check.self, Preview.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate every template (well-formed, schema, known placeholders).",
            discussion: """
                Checks --directory, else the configuration's templates.directory (--config, \
                ETICKET_CONFIG or the installed /etc/eticket/config.json), else the installed or \
                checkout's config/templates. Exit code 3 when any template is refused; each problem \
                is printed as file:line: reason.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "The templates directory (default: the configuration's, or config/templates).") var directory: String?

        func run() async throws {
            try await reportingErrors {
                let configured = try await Settings.load(options).templatesDirectory
                let (files, problems) = try EmailTemplates.check(directory: directory ?? configured)
                for problem in problems { printError(problem) }
                guard problems.isEmpty else { throw ExitCode(ExitStatus.badInput) }
                print("\(counted(files.count, "template")) ok")
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a rendered message (RFC 5322) without storing it, or write its HTML to a file.",
            discussion: """
                Either for a dossier of the database (--dossier) or for an invented family (--example). \
                With --html FILE, the HTML part is written to FILE (mode 0600; a symbolic link or another \
                user's file is refused) for opening in a browser, and only its size is printed.
                """)
        @OptionGroup var options: GlobalOptions
        @Argument(help: "dossier-processed or planning-open.") var kind: String
        @Option(help: "A dossier's external id.") var dossier: String?
        @Flag(help: "Render for an invented family instead of a dossier.") var example = false
        @Option(help: "With --example: fr or en.") var language = "fr"
        @Option(help: "With --example: validated, returned or rejected.") var outcome = "validated"
        @Option(help: "The templates directory (default config/templates).") var directory: String?
        @Option(help: "Write the HTML part to this file instead of printing the message.") var html: String?

        func validate() throws {
            guard (dossier != nil) != example else { throw ValidationError("give either --dossier ID or --example") }
        }

        func run() async throws {
            try await reportingErrors {
                let bytes: [UInt8]
                if let dossier {
                    let settings = try await Settings.load(options)
                    let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                    bytes = try administration.previewEmail(kind: kind, dossier: dossier, templates: directory)
                } else {
                    bytes = try EmailTemplates.previewExample(
                        kind: kind, language: language, outcome: outcome, directory: directory)
                }
                if let html {
                    let size = try EmailTemplates.writeHTML(of: bytes, to: html)
                    print("\(html): the HTML part, \(size) bytes (the whole message: \(bytes.count) bytes)")
                } else {
                    FileHandle.standardOutput.write(Data(bytes))
                }
            }
        }
    }
}
