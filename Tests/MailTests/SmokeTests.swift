import Dossiers
import Foundation
import Mail
import Testing

@Test func smoke() throws {
    let library = try Fixtures.library()
    let email = try library.render(
        .dossierProcessed, context: Fixtures.context(outcome: .returned, reasons: ["Il manque A", "Il manque <B>"]),
        messageID: "abc@lafayette.example", date: Fixtures.date)
    print(String(decoding: email.bytes, as: UTF8.self))
    print(email.text)
    print(email.html)
    let p = try library.render(
        .planningOpen, context: Fixtures.context(language: .en, outcome: nil, services: ["Canteen", "Morning care"], period: Fixtures.period),
        messageID: "abcd@lafayette.example", date: Fixtures.date)
    print(p.text)
    #expect(email.subject.contains("VLF-0001"))
}
