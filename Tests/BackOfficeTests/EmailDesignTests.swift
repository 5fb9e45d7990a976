import Dossiers
import Foundation
import Mail
import TestSupport
import Testing

@testable import BackOffice

/// The family emails as a browser engine lays them out: every kind in every language, at a
/// phone's width (375 px) and a desktop's (700 px), with Chromium. The screenshots are kept in
/// `.build/artefacts/emails/` (with the HTML they show) for a person to look at; what can be
/// checked by machine is checked here: no horizontal scrolling, a button a thumb can hit, the
/// size, no outside resource, every value filled in, hostile values shown as text.
///
/// There is no awaiting-review email: a dossier waiting for an administrator tells the family
/// nothing until it is decided.
@Suite(.serialized, .tags(.e2e), .enabled(if: Chromium.isAvailable, "chromium is not installed (.ci/run installs it)"))
struct EmailDesignTests {
    static let artefacts = Fixture.root.appendingPathComponent(".build/artefacts/emails")

    struct Case {
        var name: String
        var kind: EmailKind
        var outcome: Outcome?
        var language: Language

        var file: String { "\(name).\(language.rawValue)" }
    }

    static let cases: [Case] = Language.allCases.flatMap { language in
        [
            Case(name: "dossier-processed-validated", kind: .dossierProcessed, outcome: .validated, language: language),
            Case(name: "dossier-processed-returned", kind: .dossierProcessed, outcome: .returned, language: language),
            Case(name: "dossier-processed-rejected", kind: .dossierProcessed, outcome: .rejected, language: language),
            Case(name: "planning-open", kind: .planningOpen, outcome: nil, language: language),
        ]
    }

    static let widths = [375, 700]

    static func context(_ item: Case) -> EmailContext {
        var context = EmailTemplates.exampleContext(language: item.language, outcome: item.outcome ?? .validated)
        if item.kind == .planningOpen {
            context.outcome = nil
            context.nextStep = nil
        }
        return context
    }

    static func render(_ kind: EmailKind, _ context: EmailContext) throws -> RenderedEmail {
        try TemplateLibrary(directory: Fixture.templates).render(
            kind, context: context, messageID: "design-test@villefranche.example", date: Fixture.storyDate)
    }

    @Test func everyKindInEveryLanguageFitsAPhoneAndADesktop() throws {
        let emails = try Self.cases.map { try Self.render($0.kind, Self.context($0)) }
        for (item, email) in zip(Self.cases, emails) {
            try Self.checkStatically(email, context: Self.context(item), item.file)
        }
        let pages = emails.flatMap { email in Self.widths.map { (html: email.html, width: $0) } }
        let measured = try Chromium.measure(pages, needles: [])
        try FileManager.default.createDirectory(at: Self.artefacts, withIntermediateDirectories: true)
        for (index, measurement) in measured.enumerated() {
            let item = Self.cases[index / Self.widths.count]
            let label = "\(item.file) at \(measurement.width) px"
            #expect(measurement.width == Self.widths[index % Self.widths.count])
            #expect(measurement.scrollWidth <= measurement.clientWidth, "\(label) scrolls sideways: \(measurement)")
            #expect(measurement.buttons.count == 1, "\(label): one button to the portal")
            for button in measurement.buttons {
                #expect(button.height >= 44, "\(label): the button is \(button.height) px tall")
                #expect(button.right <= Double(measurement.clientWidth), "\(label): the button overflows")
            }
            #expect(measurement.images.isEmpty && measurement.scripts == 0 && measurement.handlers == 0, "\(label)")

            let html = Self.artefacts.appendingPathComponent("\(item.file).html")
            try emails[index / Self.widths.count].html.write(to: html, atomically: true, encoding: .utf8)
            try Chromium.screenshot(
                html, width: measurement.width, height: max(measurement.contentHeight, 200),
                to: Self.artefacts.appendingPathComponent("\(item.file).\(measurement.width).png"))
        }
        print("email screenshots: \(Self.artefacts.path)")
    }

    /// The measurement is not vacuous: a page wider than the phone is caught.
    @Test func aPageWiderThanThePhoneIsCaught() throws {
        let wide = "<!DOCTYPE html><html><body><table style=\"width:500px\"><tr><td>x</td></tr></table></body></html>"
        let measured = try Chromium.measure([(wide, 375)], needles: ["x"])
        #expect(measured.first.map { $0.scrollWidth > $0.clientWidth } == true)
        #expect(measured.first?.shown == [true])
    }

    static let hostile = [
        "<img src=x onerror=alert(1)>", "\"><script>alert(2)</script>", "<svg onload=alert(3)>",
        "' onmouseover='alert(5)", "</td></tr></table><iframe src=//evil.example>",
        "Anticonstitutionnellementanticonstitutionnellementanticonstitutionnellement",
    ]

    /// Names, labels and branding written to break out of the markup: every one is shown as the
    /// text it is, none becomes an element, a handler, a script or a resource, and a word longer
    /// than the phone's width wraps instead of widening the page.
    @Test func hostileValuesAreShownAsTextOnAPhone() throws {
        let cases = Self.cases.filter { $0.language == .fr }
        var pages: [(html: String, width: Int)] = []
        for item in cases {
            var context = Self.context(item)
            context.account.firstName = Self.hostile[0]
            context.account.lastName = Self.hostile[5]
            context.familyName = Self.hostile[1]
            context.structure.name = Self.hostile[4]
            context.structure.branding = Branding(
                displayName: Self.hostile[2], logoURL: "javascript:alert(4)",
                accentColor: "red;background:url(https://evil.example/x)", phone: Self.hostile[3],
                address: Self.hostile[4], openingHours: Self.hostile[1])
            context.children[0].firstName = Self.hostile[1]
            context.children[0].calendars[0].title = Self.hostile[0]
            context.reasons = context.reasons.map { _ in Self.hostile[4] }
            context.period?.label = Self.hostile[3]
            let email = try Self.render(item.kind, context)
            // (`onerror=` may be there, as text inside an escaped `&lt;img …&gt;`: the browser says
            // below that no element carries a handler.)
            for needle in ["<img", "<script", "<svg", "<iframe", "url(", "javascript:"] {
                #expect(!email.html.contains(needle), "\(item.file) holds \(needle)")
            }
            pages.append((email.html, 375))
        }
        let measured = try Chromium.measure(pages, needles: Self.hostile)
        for (item, measurement) in zip(cases, measured) {
            #expect(measurement.scripts == 0 && measurement.handlers == 0 && measurement.images.isEmpty, "\(item.file)")
            #expect(measurement.scrollWidth <= measurement.clientWidth, "\(item.file) scrolls sideways")
            // Each value the kind shows is there, as text.
            #expect(measurement.shown[0] && measurement.shown[2] && measurement.shown[4], "\(item.file): \(measurement.shown)")
        }
    }

    /// The structure's logo is the one resource an email may load, and it has its `alt` text.
    @Test func theLogoIsTheOnlyOutsideResource() throws {
        var context = Self.context(Self.cases[0])
        context.structure.branding.logoURL = "https://villefranche.example/logo.png"
        let email = try Self.render(.dossierProcessed, context)
        try Self.checkStatically(email, context: context, "with a logo")
        let measured = try Chromium.measure([(email.html, 375)], needles: [])
        #expect(measured.first?.images == ["https://villefranche.example/logo.png"])
        #expect(email.html.contains("alt=\"Ville de Villefranche · Enfance\""))
    }

    /// A large family stays well under the 102 KB some clients clip at: the calendars stop at
    /// twelve and the rest are named, with the portal for their calendar.
    @Test func aLargeFamilyStaysUnderTheClippingSize() throws {
        var context = Self.context(Self.cases[3])
        let grids = context.children[0].calendars + context.children[1].calendars
        context.children = (1...8).map { index in
            ChildInfo(
                firstName: "Enfant \(index)", lastName: "Famille", services: [],
                calendars: (0..<5).map { service in
                    var grid = grids[service % grids.count]
                    grid.title = "Service \(service + 1) avec un libellé assez long"
                    return grid
                })
        }
        let email = try Self.render(.planningOpen, context)
        #expect(email.bytes.count < 100_000, "\(email.bytes.count) bytes")
        #expect(email.html.components(separatedBy: "<td colspan=\"7\"").count - 1 == 12)
        #expect(email.text.contains("Service 3 avec un libellé assez long — calendrier sur le portail famille"))
    }

    /// What a machine can check without a browser: the size, no outside resource, links that are
    /// web or phone links, every value the family needs present, no value left empty.
    static func checkStatically(_ email: RenderedEmail, context: EmailContext, _ label: String) throws {
        #expect(email.bytes.count < 60_000, "\(label): \(email.bytes.count) bytes")
        let lower = email.html.lowercased()
        for banned in ["<script", "<link", "<style", "<iframe", "<object", "<embed", "<form", "@import", "url(", "<value"] {
            #expect(!lower.contains(banned), "\(label) holds \(banned)")
        }
        let sources = attributeValues("src", in: email.html)
        #expect(sources == [context.structure.branding.logoURL].compactMap { $0 }, "\(label): \(sources)")
        for target in attributeValues("href", in: email.html) {
            #expect(target.hasPrefix("https://") || target.hasPrefix("tel:"), "\(label): link to \(target)")
        }
        #expect(email.html.contains("<html lang=\"\(context.language.rawValue)\">"))
        // Every value the family needs, in both parts; no placeholder left empty.
        var needed = [context.account.firstName]
        if context.outcome != nil { needed.append(context.dossierExternalID) }
        needed += context.children.map(\.firstName) + context.reasons + context.reasonActions.filter { !$0.isEmpty }
        if let phone = context.structure.branding.phone { needed.append(phone) }
        if let period = context.period, context.outcome == nil { needed.append(period.label) }
        if case .on = context.nextStep {
            needed.append(context.language == .fr ? "24 août 2026 à 9 h 00" : "24 August 2026 at 9:00")
        }
        // The text part as read, wrapped lines joined again.
        let text = email.text.replacingOccurrences(of: "\n +", with: " ", options: .regularExpression)
        for value in needed {
            #expect(text.contains(value), "\(label): the text part lacks \(value)")
            #expect(email.html.contains(escape(value)), "\(label): the HTML part lacks \(value)")
        }
        for empty in ["()", "«\u{A0}\u{A0}»", "“”", " ,", " .", ":\n\n"] {
            #expect(!email.text.contains(empty), "\(label): \(empty.debugDescription) in the text part")
        }
        #expect(email.text.split(separator: "\n").allSatisfy { $0.count <= 76 || !$0.contains(" ") }, "\(label): unwrapped line")
    }

    static func attributeValues(_ name: String, in html: String) -> [String] {
        html.components(separatedBy: " \(name)=\"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
