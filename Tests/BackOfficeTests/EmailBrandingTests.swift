import BackOffice
import Dossiers
import Foundation
import Mail
import Postgres
import Testing

/// The emails as the worker writes them from the database: the structure's branding, the
/// validated email's next step, and planning-open calendars that agree with `planning show`.
@Suite("Emails from the database: branding, next step, calendars")
struct EmailBrandingTests {
    static func outbox(_ externalID: String, _ kind: String, _ connection: Connection) throws -> ComposedMessageParts {
        let message = try #require(
            try RenderedOutbox.message(
                """
                SELECT o.id FROM email_outbox o JOIN dossiers d ON d.id = o.dossier_id
                WHERE d.external_id = $1 AND o.kind = $2::email_kind ORDER BY o.id DESC LIMIT 1
                """, [externalID, kind], on: connection))
        return try ComposedMessageParts(reading: message)
    }

    /// The email's calendar and `planning show` come from the same classification and the same
    /// grid: for every service the child has rights to, the email's text lines are the lines
    /// `planning show` draws for those days.
    @Test func thePlanningOpenEmailDrawsWhatPlanningShowShows() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let email = try Self.outbox("VLF-0001", "planning-open", connection)
        // The story's clock stands on Thursday 3 December 2026, the school year under way: the
        // email draws from that day to the fourth Sunday, 27 December.
        let december = try administration.planning(child: "VLF-0001/1", month: "2026-12")
        let withRights = december.services.filter { !$0.rightsPeriods.isEmpty }
        #expect(!withRights.isEmpty)
        for service in withRights {
            let grid = PlanningGrid(
                title: service.label, firstDay: try #require(CalendarDate(iso: "2026-12-03")),
                marks: Array(service.days[2...26]))
            let lines = grid.textLines(language: .fr).map { "  " + $0 }.joined(separator: "\n")
            #expect(email.text.contains("\(service.label)\n\(lines)\n"), "\(service.code):\n\(lines)\n\(email.text)")
        }
        #expect(email.text.contains("✕")) // Christmas
    }

    @Test func theStructuresBrandingFramesItsEmails() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let validated = try Self.outbox("VLF-0001", "dossier-processed", connection)
        #expect(validated.html.contains(">Ville de Villefranche · Enfance</div>"))
        #expect(validated.html.contains("background-color:#0b6e4f"))
        #expect(validated.html.contains("<a href=\"tel:0474620000\""))
        #expect(validated.text.contains("Téléphone : 04 74 62 00 00"))
        // Villefranche opens rights at validation: the family can reserve now.
        #expect(validated.text.contains("Vous pouvez réserver dès maintenant"))
    }

    /// Saint-Amour has no branding (the neutral design) and opens its planning on a date: the
    /// validated email names it, in the structure's time.
    @Test func aScheduledOpeningIsAnnouncedWithItsDate() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.decide(
            "PTL-0001", .approve, reason: nil, by: "Marie Curie", outbox: try EmailOutbox(directory: Fixture.templates))
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let validated = try Self.outbox("PTL-0001", "dossier-processed", connection)
        #expect(validated.text.contains("The reservation planning opens on 15 January 2027 at 9:00."))
        #expect(validated.html.contains("background-color:#1f4e79"))
        #expect(validated.html.contains(">Association Les P&#39;tits Loups de Saint-Amour</div>"))
    }

    /// From inside the database, a branding value the contract would refuse is refused too: no
    /// `javascript:` or plain-http logo, no CSS smuggled in as a colour.
    @Test(arguments: [
        ("logo_url", "javascript:alert(1)"), ("logo_url", "http://evil.example/logo.png"),
        ("logo_url", "https://evil.example/x\" onerror=\"alert(1)"), ("logo_url", "https://x.example/a(b)"),
        ("accent_color", "red"), ("accent_color", "#0B6E4F"), ("accent_color", "#000;background:url(x)"),
        ("display_name", ""), ("contact_phone", String(repeating: "0", count: 41)),
    ])
    func theDatabaseRefusesBrandingTheContractRefuses(column: String, value: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect {
            try connection.query("UPDATE structures SET \(column) = $1 WHERE code = 'villefranche'", [value])
        } throws: { error in
            (error as? PostgresError)?.sqlState == "23514"
        }
    }
}
