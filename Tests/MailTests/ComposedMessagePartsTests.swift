import Dossiers
import Foundation
import Mail
import Testing

/// The outbox keeps only a message's bytes: reading them back must give exactly what was rendered.
@Suite struct ComposedMessagePartsTests {
    let library: TemplateLibrary

    init() throws { library = try Fixtures.library() }

    static let kinds: [(EmailKind, Outcome?)] = [
        (.dossierProcessed, .validated), (.dossierProcessed, .returned), (.dossierProcessed, .rejected),
        (.planningOpen, nil),
    ]

    @Test(arguments: hostileNames.indices)
    func everyRenderedEmailReadsBackAsRendered(_ index: Int) throws {
        let name = hostileNames[index]
        for (kind, outcome) in Self.kinds {
            for language in [Language.fr, .en] {
                let email = try library.render(
                    kind,
                    context: Fixtures.context(
                        language: language, outcome: outcome, firstName: name.first, lastName: name.last,
                        reasons: ["Motif pour \(name.first)\nsur deux lignes  ", "From the start. =3D"],
                        period: kind == .planningOpen ? Fixtures.period : nil),
                    messageID: "\(index)-\(kind.rawValue)-\(language.rawValue)@lafayette.example", date: Fixtures.date)
                let parts = try ComposedMessageParts(reading: email.bytes)
                #expect(parts.headers == email.headers, "\(kind) \(language)")
                #expect(parts.text == email.text, "\(kind) \(language)")
                #expect(parts.html == email.html, "\(kind) \(language)")
            }
        }
    }

    @Test(arguments: [
        ("", "no blank line after the header fields"),
        ("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n", "no multipart boundary"),
        (
            "From: a@example.org\r\nContent-Type: multipart/alternative;\r\n boundary=\"b\"\r\n\r\n--b\r\n",
            "part 1 of 2 not found"
        ),
        (" folded: first\r\n\r\n", "a folded line before any field"),
        ("no colon here\r\n\r\n", "a header line without a colon"),
    ])
    func otherBytesAreRefusedWithTheReason(_ message: String, _ reason: String) throws {
        let error = #expect(throws: MailError.self) { try ComposedMessageParts(reading: Array(message.utf8)) }
        #expect(error?.code == .unreadableMessage)
        #expect(error?.reason == "not a message eticket composed: \(reason)")
    }
}
