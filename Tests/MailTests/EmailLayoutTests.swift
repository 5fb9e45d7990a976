import Dossiers
import Foundation
import Testing

@testable import Mail

/// The frame around every email: colours that stay readable, branding checked again at
/// rendering, the inline styles, the plain text's wrapping.
@Suite struct EmailLayoutTests {
    let library: TemplateLibrary

    init() throws { library = try Fixtures.library() }

    @Test(arguments: ["#0b6e4f", "#ffd700", "#ffffff", "#000000", "#777777", "#1F4E79"])
    func theTextOnTheAccentReadsAtLeastFourAndAHalfToOne(_ accent: String) {
        let palette = EmailLayout.Palette(Branding(accentColor: accent))
        #expect(palette.accent == accent.lowercased())
        #expect(EmailLayout.Palette.contrast(palette.accent, palette.onAccent) >= 4.5)
    }

    @Test func aLightAccentGetsDarkText() {
        #expect(EmailLayout.Palette(Branding(accentColor: "#ffd700")).onAccent == "#000000")
        #expect(EmailLayout.Palette(Branding(accentColor: "#0b6e4f")).onAccent == "#ffffff")
    }

    /// Branding written behind the contract's back (straight into the database) is checked
    /// again: a colour that is not `#rrggbb` and a logo that is not https are left out.
    @Test func invalidBrandingFallsBackToTheNeutralDesign() throws {
        var structure = Fixtures.structure
        structure.branding = Branding(
            displayName: "  ", logoURL: "http://insecure.example/logo.png\" onerror=\"alert(1)",
            accentColor: "red;background:url(https://evil.example)")
        let email = try library.render(
            .dossierProcessed, context: Fixtures.context(structure: structure), messageID: "a@b.example", date: Fixtures.date)
        #expect(!email.html.contains("<img"))
        #expect(!email.html.contains("evil.example"))
        #expect(email.html.contains("background-color:\(EmailLayout.neutralAccent)"))
        // A blank display name: the structure's name stands in.
        #expect(email.html.contains(">Ville de Lafayette – Enfance</div>"))
    }

    @Test(arguments: [
        "https://a.example/logo.png", "HTTPS://A.example/x?y=1&z=2",
    ])
    func aLogoIsAnHTTPSAddress(_ url: String) { #expect(Branding.isLogoURL(url)) }

    @Test(arguments: [
        "http://a.example/logo.png", "https://", "https:///x", "javascript:alert(1)", "https://a.example/a b",
        "https://a.example/\"x", "https://a.example/x'", "https://a.example/<x>", "https://a.example/(x)",
        "https://a.example/\\x", "https://a.example/é", "data:image/png;base64,AAAA",
    ])
    func anythingElseIsNoLogo(_ url: String) { #expect(!Branding.isLogoURL(url)) }

    @Test func theTemplatesElementsGetTheLayoutsInlineStyle() throws {
        let email = try library.render(
            .dossierProcessed, context: Fixtures.context(), messageID: "a@b.example", date: Fixtures.date)
        #expect(email.html.contains("<p style=\"\(EmailLayout.defaultStyle["p"] ?? "?")\">Bonjour Zoé Martin,</p>"))
        #expect(email.html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(email.html.contains("<table role=\"presentation\""))
    }

    @Test func theFooterCarriesTheContactInBothParts() throws {
        var structure = Fixtures.structure
        structure.branding = Branding(phone: "+33 (0)4 74 62 00 00", address: "1 place de la Mairie", openingHours: "9 h – 17 h")
        let email = try library.render(
            .planningOpen, context: Fixtures.context(outcome: nil, period: Fixtures.period, structure: structure),
            messageID: "a@b.example", date: Fixtures.date)
        #expect(email.html.contains("<a href=\"tel:+330474620000\""))
        #expect(
            email.text.hasSuffix(
                "-- \nVille de Lafayette – Enfance\n1 place de la Mairie\nTéléphone : +33 (0)4 74 62 00 00\nHoraires : 9 h – 17 h\n"
            ))
    }

    @Test func longLinesWrapAndListItemsHangUnderTheirText() {
        let long = String(repeating: "mot ", count: 30).trimmingCharacters(in: .whitespaces)
        let wrapped = String(
            decoding: EmailLayout.wrap(
                Array("- \(long)\n→ \(long)\n  1○   2●\nhttps://\(String(repeating: "x", count: 90))".utf8)),
            as: UTF8.self)
        let lines = wrapped.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 76 || !$0.contains(" ") })
        #expect(lines[1].hasPrefix("  mot"))
        #expect(lines.contains { $0.hasPrefix("    → mot") })
        #expect(lines.contains { $0.hasPrefix("      mot") })
        #expect(lines.contains("  1○   2●"))
        #expect(lines.last?.count == 98)
    }
}
