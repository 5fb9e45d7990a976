import Dossiers
import Foundation
import Mail
import Testing

@Suite struct TemplateRenderingTests {
    let library: TemplateLibrary

    init() throws { library = try Fixtures.library() }

    func content(_ context: EmailContext, _ kind: EmailKind = .dossierProcessed) throws -> RenderedContent {
        try library.template(kind, language: context.language, structureCode: context.structure.code).render(context)
    }

    @Test(arguments: [Outcome.validated, .returned, .rejected])
    func eachOutcomeSectionAppearsOnlyForItsOutcome(_ outcome: Outcome) throws {
        let phrases: [Outcome: (subject: String, body: String)] = [
            .validated: ("is validated", "Your dossier is validated."),
            .returned: ("needs completing", "your dossier has been returned to you"),
            .rejected: ("was not accepted", "Your dossier was not accepted."),
        ]
        let rendered = try content(Fixtures.context(language: .en, outcome: outcome, reasons: ["Reason one"]))
        for (other, phrase) in phrases {
            #expect(rendered.subject.contains(phrase.subject) == (other == outcome), "\(other) in subject")
            #expect(rendered.text.contains(phrase.body) == (other == outcome), "\(other) in text")
        }
        #expect(rendered.text.contains("[ ] Reason one") == (outcome == .returned))
        #expect(rendered.text.contains("- Reason one") == (outcome == .rejected))
        #expect(rendered.html.contains(">Reason one</") == (outcome != .validated))
        #expect(
            rendered.subject
                == "Your dossier VLF-0001 \(phrases[outcome]?.subject ?? "?") – Ville de Lafayette – Enfance")
    }

    @Test func returnedDossierListsEveryReasonInOrder() throws {
        let reasons = ["Il manque un enfant", "Aucun payeur", "Pièce manquante : attestation"]
        let rendered = try content(Fixtures.context(outcome: .returned, reasons: reasons))
        #expect(
            rendered.text.contains(
                "À FAIRE\n[ ] Il manque un enfant\n[ ] Aucun payeur\n[ ] Pièce manquante : attestation\n"))
        let positions = reasons.compactMap { rendered.html.range(of: "<strong>\($0)</strong>")?.lowerBound }
        #expect(positions.count == 3 && positions == positions.sorted())
        #expect(rendered.html.components(separatedBy: "☐").count == 4)
        // The text body's layout: no indentation from the XML, no double blank lines.
        #expect(!rendered.text.contains("\n "))
        #expect(!rendered.text.contains("\n\n\n"))
        #expect(rendered.text.hasPrefix("Bonjour Zoé Martin,\n\n"))
    }

    @Test func planningOpenDrawsEachChildsCalendarsOnceWithPlanningShowsGrid() throws {
        let september = try #require(CalendarDate(iso: "2026-09-01"))
        let canteen = PlanningGrid(
            title: "Cantine", from: september, through: september.adding(days: 12), runsOn: [1, 2, 4, 5],
            reserved: [september.adding(days: 2)]
        ) { .init(isClosed: $0 == september.adding(days: 10), hasRights: true) }
        var context = Fixtures.context(language: .en, outcome: nil, services: ["Cantine"], period: Fixtures.period)
        context.children = [
            ChildInfo(firstName: "Léa", lastName: "Martin", services: ["Cantine"], calendars: [canteen]),
            ChildInfo(firstName: "Tom", lastName: "Martin", services: ["Cantine"], calendars: [canteen]),
        ]
        let rendered = try content(context, .planningOpen)
        // The text part draws the grid `planning show` draws, line for line.
        let grid = canteen.textLines(language: .en).map { "  " + $0 }.joined(separator: "\n")
        #expect(rendered.text.contains("Léa Martin\nCantine\n\(grid)\n"))
        #expect(rendered.text.contains("Tom Martin\nCantine\n\(grid)\n"))
        #expect(grid.contains("3●") && grid.contains("1○") && grid.contains("2-") && grid.contains("9-") && grid.contains("11✕"))
        // Each service once per child: no second list of the services.
        #expect(rendered.text.components(separatedBy: "Cantine").count - 1 == 2)
        #expect(rendered.html.components(separatedBy: ">Cantine<").count - 1 == 2)
        #expect(rendered.text.contains("● reserved  ○ open to reserve  ✕ closed (holiday)  - service not running"))
        #expect(rendered.text.replacingOccurrences(of: "\n", with: " ").contains("from 1 September 2026 to 3 July 2027"))
        #expect(rendered.html.contains(">Léa Martin</h2>"))
        #expect(
            rendered.subject
                == "The reservation planning is open – Année scolaire 2026–2027 – Ville de Lafayette – Enfance")

        let french = try content(Fixtures.context(outcome: nil, period: Fixtures.period), .planningOpen)
        #expect(french.text.replacingOccurrences(of: "\n", with: " ").contains("du 1er septembre 2026 au 3 juillet 2027"))
    }

    @Test func valuesAreTextNeverMarkup() throws {
        let script = "<script>alert(1)</script>"
        let rendered = try content(
            Fixtures.context(outcome: .returned, firstName: script, reasons: ["\(script) & \"quotes\" 'single'"]))
        #expect(!rendered.html.contains("<script>"))
        #expect(rendered.html.contains("Bonjour &lt;script&gt;alert(1)&lt;/script&gt; Martin"))
        #expect(
            rendered.html.contains(
                "<strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;</strong>"))
        #expect(rendered.html.contains("<title>Votre dossier VLF-0001 est à compléter"))
        // The text body shows the value as typed.
        #expect(rendered.text.contains("Bonjour <script>alert(1)</script> Martin"))
    }

    @Test func onlyWebLinksBecomeHrefs() throws {
        var structure = Fixtures.structure
        structure.portalURL = "javascript:alert(1)"
        let rendered = try content(Fixtures.context(structure: structure))
        // No button at all rather than a button that goes nowhere.
        #expect(!rendered.html.contains("Accéder au portail famille"))
        #expect(!rendered.html.contains("href=\"javascript"))

        structure.portalURL = "https://portail.example/?a=1&b=\"2\""
        let escaped = try content(Fixtures.context(structure: structure))
        #expect(escaped.html.contains("<a href=\"https://portail.example/?a=1&amp;b=&quot;2&quot;\" style="))
        #expect(escaped.html.contains(">Accéder au portail famille</a>"))

        structure.portalURL = nil
        let none = try content(Fixtures.context(structure: structure))
        #expect(!none.html.contains("<a "))
        #expect(!none.html.contains("Accéder au portail famille"))
        #expect(!none.text.contains("Portail famille"))
    }

    /// A combining mark after a quote makes one `Character` to Swift, but a browser still reads
    /// the quote: it must be escaped all the same, or it would close an attribute.
    @Test func aMarkupCharacterFollowedByACombiningMarkIsStillEscaped() throws {
        var structure = Fixtures.structure
        structure.portalURL = "https://portail.example/?q=\"\u{301}onmouseover=alert(1)"
        let rendered = try content(
            Fixtures.context(
                outcome: .returned, firstName: "<\u{301}b>", reasons: ["&\u{301}amp; '\u{301}"],
                structure: structure))
        #expect(rendered.html.contains("href=\"https://portail.example/?q=&quot;\u{301}onmouseover=alert(1)\" style="))
        #expect(rendered.html.contains("Bonjour &lt;\u{301}b&gt; Martin"))
        #expect(rendered.html.contains("<strong>&amp;\u{301}amp; &#39;\u{301}</strong>"))
        #expect(!rendered.html.unicodeScalars.split(separator: "<").contains { $0.starts(with: "\u{301}".unicodeScalars) })
    }

    @Test func lineBreaksInNamesStayOnOneLineAndReasonsKeepTheirs() throws {
        let rendered = try content(
            Fixtures.context(
                outcome: .returned, firstName: "Zoé\r\nBcc: evil@attacker.example", reasons: ["Line 1\r\nLine 2"]))
        #expect(rendered.text.hasPrefix("Bonjour Zoé Bcc: evil@attacker.example Martin,\n"))
        #expect(rendered.text.contains("[ ] Line 1\nLine 2\n"))
        #expect(rendered.subject.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F })
    }
}
