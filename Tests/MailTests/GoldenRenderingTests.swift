import Dossiers
import Foundation
import Mail
import Testing

/// Byte-for-byte checks of rendering and MIME composition against outputs recorded from the
/// implementation before the renderer was rewritten for speed (`Golden/renderings.jsonl`).
///
/// Every template kind × language is rendered for varied contexts (hostile names, every outcome,
/// multi-line reasons, missing values, other time zones), as are the templates of
/// `Golden/templates` (every construct of the template language, carriage returns), plus
/// `MIMEMessage`s built directly.
/// To re-record after an intended change of output: `ETICKET_RECORD_GOLDEN=1 swift test --filter Golden`,
/// then review the diff of the file.
@Suite struct GoldenRenderingTests {
    static let goldenFile: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/renderings.jsonl"
        ).path
    }()

    /// One recorded output; `bytes` is the message as text (it is ASCII).
    struct Recorded: Codable, Equatable {
        var name: String
        var messageID: String
        var from: String
        var to: String
        var subject: String
        var headers: [[String]]
        var text: String
        var html: String
        var bytes: String
    }

    @Test func renderingsMatchTheRecordedBytes() throws {
        let current = try Self.renderAll()
        if ProcessInfo.processInfo.environment["ETICKET_RECORD_GOLDEN"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let lines = try current.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            try (lines.joined(separator: "\n") + "\n").write(toFile: Self.goldenFile, atomically: true, encoding: .utf8)
            return
        }
        let text = try String(contentsOfFile: Self.goldenFile, encoding: .utf8)
        let recorded = try text.split(separator: "\n").map {
            try JSONDecoder().decode(Recorded.self, from: Data($0.utf8))
        }
        #expect(recorded.map(\.name) == current.map(\.name))
        for (old, new) in zip(recorded, current) where old != new {
            Issue.record("\(old.name) differs: \(Self.firstDifference(old, new))")
        }
    }

    static func firstDifference(_ old: Recorded, _ new: Recorded) -> String {
        let fields: [(String, String, String)] = [
            ("messageID", old.messageID, new.messageID), ("from", old.from, new.from), ("to", old.to, new.to),
            ("subject", old.subject, new.subject), ("headers", "\(old.headers)", "\(new.headers)"),
            ("text", old.text, new.text), ("html", old.html, new.html), ("bytes", old.bytes, new.bytes),
        ]
        guard let (field, was, is_) = fields.first(where: { $0.1 != $0.2 }) else { return "?" }
        let common = zip(was, is_).prefix(while: { $0 == $1 }).count
        let recorded = String(was.dropFirst(common).prefix(80)).debugDescription
        let now = String(is_.dropFirst(common).prefix(80)).debugDescription
        return "\(field) from character \(common): recorded \(recorded), now \(now)"
    }

    static func renderAll() throws -> [Recorded] {
        let library = try Fixtures.library()
        var result: [Recorded] = []
        for (name, context, messageID, date) in contexts() {
            for kind in EmailKind.allCases {
                for language in Language.allCases {
                    var localized = context
                    localized.language = language
                    let email = try library.render(kind, context: localized, messageID: messageID, date: date)
                    result.append(try record("\(kind.rawValue).\(language.rawValue) \(name)", email))
                }
            }
        }
        let custom = try customLibrary()
        for (name, context, messageID, date) in contexts() {
            for kind in EmailKind.allCases {
                var english = context
                english.language = .en
                let email = try custom.render(kind, context: english, messageID: messageID, date: date)
                result.append(try record("custom \(kind.rawValue) \(name)", email))
            }
        }
        for (name, message) in messages() {
            let (headers, bytes) = try message.encoded()
            result.append(
                try record(
                    "MIMEMessage \(name)",
                    RenderedEmail(
                        messageID: message.messageID, from: message.from.address, to: message.to.address,
                        subject: message.subject, text: message.text, html: message.html, headers: headers,
                        bytes: bytes)))
        }
        return result
    }

    /// `Golden/templates`: every construct of the template language, and carriage returns.
    static func customLibrary() throws -> TemplateLibrary {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/templates"
        ).path
        let directory = try Fixtures.temporaryDirectory()
        let fileManager = FileManager.default
        try fileManager.copyItem(
            atPath: "\(Fixtures.templatesDirectory)/email-template.xsd", toPath: "\(directory)/email-template.xsd")
        for name in try fileManager.contentsOfDirectory(atPath: source) {
            try fileManager.copyItem(atPath: "\(source)/\(name)", toPath: "\(directory)/\(name)")
        }
        return try TemplateLibrary(directory: directory, requireAllDefaults: false)
    }

    static func record(_ name: String, _ email: RenderedEmail) throws -> Recorded {
        let bytes = try #require(String(validating: email.bytes, as: UTF8.self))
        return Recorded(
            name: name, messageID: email.messageID, from: email.from, to: email.to, subject: email.subject,
            headers: email.headers.map { [$0.name, $0.value] }, text: email.text, html: email.html, bytes: bytes)
    }

    static let reasons = [
        "Aucun responsable légal n'est désigné comme payeur.",
        "Ligne une\r\nLigne deux\rLigne trois\u{2028}quatre\u{85}cinq\ttabulée   ",
        "From the start, a line mbox would mangle.\n.\nA line with = signs & <tags> \"quoted\" 'single'",
        String(repeating: "Une très longue raison avec des accents é è à ç et des = signes ", count: 5),
        "   ",
        "",
    ]

    static func contexts() -> [(String, EmailContext, String, Date)] {
        let id = "0f4e6a52-0b4e-4c1e-9a53-6d1f3f2b8c11@lafayette.example"
        var cases: [(String, EmailContext, String, Date)] = []
        func add(_ name: String, _ context: EmailContext, id: String = id, date: Date = Fixtures.date) {
            cases.append((name, context, id, date))
        }
        add(
            "default",
            Fixtures.context(services: ["Cantine", "Garderie"], period: Fixtures.period))
        add(
            "returned with reasons",
            Fixtures.context(outcome: .returned, reasons: reasons, services: ["Cantine"], period: Fixtures.period),
            id: "<angle.brackets@lafayette.example>")
        var plain = StructureInfo(
            code: "NYC", name: "Plain Structure", portalURL: nil, senderName: "Plain Sender",
            senderEmail: "plain@nyc.example", replyTo: nil, timeZone: "America/New_York")
        add(
            "rejected, no reasons, no portal, no reply-to, New York",
            Fixtures.context(outcome: .rejected, children: [], structure: plain),
            date: Date(timeIntervalSince1970: 1_783_000_000.75))
        plain.portalURL = "javascript:alert(1)"
        plain.timeZone = "Asia/Kolkata"
        plain.senderName = ""
        add(
            "awaiting review, javascript link, Kolkata, empty sender name",
            Fixtures.context(
                outcome: .awaitingReview, reasons: ["Une seule raison"],
                children: [ChildInfo(firstName: "Solo", lastName: "Enfant", services: [])], structure: plain),
            date: Date(timeIntervalSince1970: 1_804_300_000))
        add(
            "no outcome, no period, no services, before 1970",
            Fixtures.context(outcome: nil, reasons: [], services: []),
            date: Date(timeIntervalSince1970: -31_536_000.5))
        for (index, name) in hostileNames.enumerated() {
            add(
                "hostile name \(index)",
                Fixtures.context(
                    outcome: .returned, firstName: name.first, lastName: name.last,
                    reasons: ["Motif pour \(name.first)"],
                    children: [ChildInfo(firstName: name.first, lastName: name.last, services: [name.last])],
                    services: [name.first], period: Fixtures.period))
        }
        let hostileStructures: [(String, String, String?)] = [
            (
                "=?UTF-8?Q?x?= <b>&amp;</b> \"quoted\"", "\"Service, Enfance\" (Lafayette)",
                "HTTPS://Example.org/x?a=1&b=<2>"
            ),
            (
                String(repeating: "Communauté de communes du Val de Saône ", count: 3),
                "Service Enfance – Mairie d’Évian", "http://a b"
            ),
            (String(repeating: "市政府儿童服务中心", count: 6), "儿童服务", "https://例子.example/门户"),
            ("Ville\u{0}de\u{7F}Test\u{9F}x\u{3000}y\u{A0}z  \t end", "A\u{2029}B", "http://ok.example/\u{85}"),
            (
                "Structure", String(repeating: "Sender ", count: 15),
                "https://portal.example/" + String(repeating: "long/", count: 20)
            ),
        ]
        for (index, (name, sender, portal)) in hostileStructures.enumerated() {
            let structure = StructureInfo(
                code: "S\(index)", name: name, portalURL: portal, senderName: sender,
                senderEmail: "sender\(index)@s.example", replyTo: index % 2 == 0 ? "reply@s.example" : nil,
                timeZone: ["Europe/Paris", "Pacific/Chatham", "America/St_Johns", "UTC", "Australia/Lord_Howe"][index])
            add(
                "hostile structure \(index)",
                Fixtures.context(
                    outcome: [Outcome.validated, .returned, .rejected][index % 3], reasons: ["R \(name)"],
                    services: [sender, name],
                    period: PeriodInfo(
                        label: "Période 🎉 \(name)", startsOn: CalendarDate(year: 2027, month: 1, day: 1)!,
                        endsOn: CalendarDate(year: 2027, month: 12, day: 31)!),
                    structure: structure))
        }
        // Graphemes that join an ASCII character to its neighbour: a combining mark after a space or
        // `&`, an enclosing mark after `<`, a ZWJ after a quote, a prepended mark before a space.
        let joined = ["a \u{301}b", "&\u{301}x", "<\u{20DD}script>", "\"\u{200D}'\u{302}", "\u{600} \t", "x\u{600}&y"]
        for (index, text) in joined.enumerated() {
            let structure = StructureInfo(
                code: "J\(index)", name: "Nom \(text) fin ", portalURL: "https://x.example/\(text)",
                senderName: text, senderEmail: "j@j.example")
            add(
                "joined graphemes \(index)",
                Fixtures.context(
                    outcome: .returned, firstName: text, lastName: "\(text) ",
                    reasons: [" \u{301}", "\(text) \n \u{301}\n"],
                    services: [text], period: Fixtures.period, structure: structure))
        }
        let children = (1...5).map { index in
            ChildInfo(
                firstName: "Enfant\(index)", lastName: "Famille-Très-Longue-Nom",
                services: (0..<index).map { "Service numéro \($0) avec un libellé assez long" })
        }
        add(
            "many children",
            Fixtures.context(
                outcome: .validated, firstName: "  \t ", lastName: "", children: children,
                services: (1...8).map { "Service \($0)" }, period: Fixtures.period))
        return cases
    }

    static func messages() -> [(String, MIMEMessage)] {
        let paris = TimeZone(identifier: "Europe/Paris") ?? .gmt
        let text =
            "From here on, a line mbox would mangle.\r\n.\rTrailing space \nTab\t\n"
            + String(repeating: "long line with é and = signs ", count: 12) + "\n\nLast line without break"
        return [
            (
                "CRLF text, no reply-to, no language",
                MIMEMessage(
                    from: Mailbox(name: "Ville", address: "ville@example.org"),
                    to: Mailbox(name: "", address: "a@example.org"), subject: "=?UTF-8?Q?not_an_encoded_word?=",
                    date: Fixtures.date, timeZone: paris, messageID: "<q@example.org>", text: text,
                    html: "<p>x</p>\r\n")
            ),
            (
                "reply-to, language, long subject",
                MIMEMessage(
                    from: Mailbox(name: "Zoé Ville", address: "ville@example.org"),
                    replyTo: Mailbox(name: "Répondre ici", address: "r@example.org"),
                    to: Mailbox(name: "Nguyễn Văn An", address: "an@example.org"),
                    subject: String(repeating: "Sujet très long avec accents ", count: 6), date: Fixtures.date,
                    timeZone: TimeZone(identifier: "America/Los_Angeles") ?? .gmt, messageID: "m@example.org",
                    language: .en, text: "", html: String(repeating: "x", count: 200))
            ),
        ]
    }
}
