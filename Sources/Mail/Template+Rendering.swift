import Dossiers
import Foundation

/// A template rendered for one context: the decoded subject and the two bodies, before MIME.
public struct RenderedContent: Sendable, Equatable {
    /// One line, no control characters.
    public var subject: String
    /// The text/plain body, lines separated by LF, ending with one LF.
    public var text: String
    /// A complete HTML document, lines separated by LF.
    public var html: String
}

/// A rendering as UTF-8, before it becomes `String`s: what MIME composition encodes.
struct RenderedBytes {
    var subject: [UInt8]
    var text: [UInt8]
    var html: [UInt8]
}

extension Template {
    /// Renders the subject and both bodies. Values are inserted as text: HTML-escaped in the HTML
    /// body, stripped of control characters in the subject.
    public func render(_ context: EmailContext) -> RenderedContent {
        let bytes = renderBytes(context)
        return RenderedContent(
            subject: String(decoding: bytes.subject, as: UTF8.self), text: String(decoding: bytes.text, as: UTF8.self),
            html: String(decoding: bytes.html, as: UTF8.self))
    }

    /// ``render(_:)`` into byte buffers, one per part, each allocated once.
    func renderBytes(_ context: EmailContext) -> RenderedBytes {
        let renderer = Renderer(context: context)
        var scratch: [UInt8] = []
        scratch.reserveCapacity(256)
        var subject: [UInt8] = []
        subject.reserveCapacity(256)
        renderer.render(self.subject, html: false, into: &subject, scratch: &scratch)
        UTF8Text.makeSingleLine(&subject, from: 0)
        var text: [UInt8] = []
        text.reserveCapacity(4096)
        renderer.render(self.text, html: false, into: &text, scratch: &scratch)
        UTF8Text.tidyText(&text)
        text = EmailLayout.wrap(text)
        EmailLayout.appendTextFoot(context, to: &text)
        var html: [UInt8] = []
        html.reserveCapacity(16384)
        EmailLayout.appendHead(context, subject: subject, to: &html)
        let body = html.count
        renderer.render(self.html, html: true, into: &html, scratch: &scratch)
        UTF8Text.tidyHTML(&html, from: body)
        EmailLayout.appendFoot(context, to: &html)
        return RenderedBytes(subject: subject, text: text, html: html)
    }
}

enum HTMLEscaping {
    /// Escapes text for an HTML text node or a quoted attribute value (the template's literal
    /// text, once, at load; values go through ``UTF8Text/appendEscapingHTML(_:to:)``).
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Walks a compiled template for one context, appending UTF-8.
///
/// Its functions take `scratch`, a buffer for a value being cleaned before it is escaped, reused
/// for every value of the rendering (as a stored property it would make Swift copy the renderer,
/// context and all, at every value).
struct Renderer {
    let context: EmailContext

    /// The current item of each loop, as indices: copying a scope retains nothing.
    struct Scope {
        var child: Int?
        var service: Int?
        /// Whether `service` indexes the current child's services rather than the context's.
        var serviceOfChild = false
        var reason: Int?
    }

    /// A compiled part being walked, through pointers valid for the walk.
    private struct Walk {
        let operations: UnsafeBufferPointer<CompiledPart.Operation>
        let literals: UnsafeBufferPointer<UInt8>
        let html: Bool

        func literal(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: literals[range])
        }
    }

    /// Appends `part` rendered; `html` says whether it is the HTML part (values escaped).
    func render(_ part: CompiledPart, html: Bool, into output: inout [UInt8], scratch: inout [UInt8]) {
        part.operations.withUnsafeBufferPointer { operations in
            part.literals.withUnsafeBufferPointer { literals in
                let walk = Walk(operations: operations, literals: literals, html: html)
                render(walk, operations.indices, Scope(), into: &output, scratch: &scratch)
            }
        }
    }

    private func render(
        _ walk: Walk, _ range: Range<Int>, _ scope: Scope, into output: inout [UInt8], scratch: inout [UInt8]
    ) {
        var index = range.lowerBound
        while index < range.upperBound {
            let operation = walk.operations[index]
            index += 1
            switch operation {
            case .literal(let bytes): output.append(contentsOf: walk.literal(bytes))
            case .value(let placeholder) where walk.html:
                clean(placeholder, scope, into: &scratch)
                UTF8Text.appendEscapingHTML(scratch, to: &output)
            case .value(let placeholder): appendValue(placeholder, scope, to: &output)
            case .href(let placeholder): appendHref(placeholder, scope, to: &output, scratch: &scratch)
            case .ifOutcome(let outcome, let end):
                if context.outcome == outcome { render(walk, index..<end, scope, into: &output, scratch: &scratch) }
                index = end
            case .ifPresent(let condition, let present, let end):
                if isPresent(condition, scope, scratch: &scratch) == present {
                    render(walk, index..<end, scope, into: &output, scratch: &scratch)
                }
                index = end
            case .ifNext(let name, let end):
                if context.nextStep?.name == name { render(walk, index..<end, scope, into: &output, scratch: &scratch) }
                index = end
            case .button(let placeholder, let end):
                clean(placeholder, scope, into: &scratch)
                UTF8Text.makeSingleLine(&scratch, from: 0)
                if Self.isWebURL(scratch) {
                    EmailLayout.appendButtonStart(
                        url: scratch, palette: EmailLayout.Palette(context.structure.branding), to: &output)
                    render(walk, index..<end, scope, into: &output, scratch: &scratch)
                    EmailLayout.appendButtonEnd(to: &output)
                }
                index = end
            case .calendars: appendCalendars(scope, html: walk.html, to: &output)
            case .calendarLegend:
                EmailLayout.appendLegend(
                    drawnCalendars, language: context.language, html: walk.html,
                    palette: EmailLayout.Palette(context.structure.branding), to: &output)
            case .forEach(let list, let separator, let end):
                for item in 0..<count(list, scope) {
                    if item > 0 { output.append(contentsOf: walk.literal(separator)) }
                    render(walk, index..<end, self.item(list, item, scope), into: &output, scratch: &scratch)
                }
                index = end
            }
        }
    }

    /// The current child's calendars, the first ``EmailLayout/maxCalendars`` of the email drawn,
    /// the others named.
    private func appendCalendars(_ scope: Scope, html: Bool, to output: inout [UInt8]) {
        guard let child = scope.child else { return }
        var drawn = context.children[..<child].reduce(0) { $0 + $1.calendars.count }
        let palette = EmailLayout.Palette(context.structure.branding)
        for grid in context.children[child].calendars {
            if drawn >= EmailLayout.maxCalendars {
                EmailLayout.appendCalendarOmitted(grid, language: context.language, html: html, to: &output)
            } else if html {
                EmailLayout.appendCalendar(grid, language: context.language, palette: palette, to: &output)
            } else {
                EmailLayout.appendCalendarText(grid, language: context.language, to: &output)
            }
            drawn += 1
        }
    }

    /// The calendars the email draws (the legend explains these only).
    private var drawnCalendars: [PlanningGrid] {
        Array(context.children.flatMap(\.calendars).prefix(EmailLayout.maxCalendars))
    }

    /// The value as the template shows it: one line, or several for a reason.
    func appendValue(_ placeholder: Placeholder, _ scope: Scope, to output: inout [UInt8]) {
        let language = context.language
        switch placeholder {
        // Words and dates are written clean.
        case .outcome:
            if let outcome = context.outcome { output.append(contentsOf: Self.word(for: outcome, in: language).utf8) }
        case .periodStartsOn:
            if let period = context.period { Self.appendLongDate(period.startsOn, in: language, to: &output) }
        case .periodEndsOn:
            if let period = context.period { Self.appendLongDate(period.endsOn, in: language, to: &output) }
        case .planningOpensAt:
            if case .on(let date) = context.nextStep { appendDateTime(date, to: &output) }
        // Reasons may run over several lines; every other value is one line (a name with a line
        // break in it shows as one line with a space).
        case .reasonMessage: UTF8Text.appendMultiLine(text(.reasonMessage, scope), to: &output)
        default: UTF8Text.appendSingleLine(text(placeholder, scope), to: &output)
        }
    }

    /// The value, alone in `scratch`.
    private func clean(_ placeholder: Placeholder, _ scope: Scope, into scratch: inout [UInt8]) {
        scratch.removeAll(keepingCapacity: true)
        appendValue(placeholder, scope, to: &scratch)
    }

    /// ` href="…"` when the value is a web address.
    private func appendHref(
        _ placeholder: Placeholder, _ scope: Scope, to output: inout [UInt8], scratch: inout [UInt8]
    ) {
        clean(placeholder, scope, into: &scratch)
        UTF8Text.makeSingleLine(&scratch, from: 0)
        guard Self.isWebURL(scratch) else { return }
        UTF8Text.appendStatic(" href=\"", to: &output)
        UTF8Text.appendEscapingHTML(scratch, to: &output)
        output.append(UInt8(ascii: "\""))
    }

    /// The text of a value that is stored as text.
    func text(_ placeholder: Placeholder, _ scope: Scope) -> String {
        switch placeholder {
        case .dossierExternalID: context.dossierExternalID
        case .accountFirstName: context.account.firstName
        case .accountLastName: context.account.lastName
        case .accountEmail: context.account.email
        case .familyName: context.familyName
        case .structureCode: context.structure.code
        case .structureName: context.structure.name
        case .structurePortalURL: context.structure.portalURL ?? ""
        case .senderName: context.structure.senderName
        case .senderEmail: context.structure.senderEmail
        case .periodLabel: context.period?.label ?? ""
        case .childFirstName: scope.child.map { context.children[$0].firstName } ?? ""
        case .childLastName: scope.child.map { context.children[$0].lastName } ?? ""
        case .serviceLabel:
            scope.service.map { scope.serviceOfChild ? childServices(scope)[$0] : context.services[$0] } ?? ""
        case .reasonMessage: scope.reason.map { context.reasons[$0] } ?? ""
        case .reasonAction:
            scope.reason.flatMap { context.reasonActions.indices.contains($0) ? context.reasonActions[$0] : nil } ?? ""
        case .outcome, .periodStartsOn, .periodEndsOn, .planningOpensAt: ""
        }
    }

    /// Whether the value has a character that is not white space, or the list an item.
    func isPresent(_ condition: Condition, _ scope: Scope, scratch: inout [UInt8]) -> Bool {
        switch condition {
        case .value(.outcome): return context.outcome != nil
        case .value(.periodStartsOn), .value(.periodEndsOn): return context.period != nil
        case .value(.planningOpensAt):
            if case .on = context.nextStep { return true }
            return false
        case .value(.reasonMessage):
            // Several lines may hold only white space `Character`s: ask the standard library.
            clean(.reasonMessage, scope, into: &scratch)
            return !String(decoding: scratch, as: UTF8.self).allSatisfy(\.isWhitespace)
        case .value(let placeholder):
            // A one-line value starts with a scalar that is not white space, hence a `Character`
            // that is not either.
            return UTF8Text.hasSingleLineText(text(placeholder, scope))
        case .list(let list):
            return count(list, scope) > 0
        }
    }

    func count(_ list: ListSource, _ scope: Scope) -> Int {
        switch list {
        case .children: context.children.count
        case .services: context.services.count
        case .childServices: childServices(scope).count
        case .reasons: context.reasons.count
        }
    }

    /// The scope of the `index`th turn of a loop over `list`.
    func item(_ list: ListSource, _ index: Int, _ scope: Scope) -> Scope {
        var inner = scope
        switch list {
        case .children: inner.child = index
        case .services, .childServices:
            inner.service = index
            inner.serviceOfChild = list == .childServices
        case .reasons: inner.reason = index
        }
        return inner
    }

    /// The current child's services; none outside a loop over children.
    func childServices(_ scope: Scope) -> [String] {
        scope.child.map { context.children[$0].services } ?? []
    }

    /// Only http and https links are made from values: a `javascript:` URL is no link.
    static func isWebURL(_ value: [UInt8]) -> Bool {
        // `String` compares `Character`s: outside ASCII, let it.
        guard value.allSatisfy({ $0 < 0x80 }) else { return isWebURL(String(decoding: value, as: UTF8.self)) }
        func hasPrefix(_ prefix: StaticString) -> Bool {
            prefix.withUTF8Buffer { prefix in
                value.count >= prefix.count
                    && zip(value, prefix).allSatisfy { (0x41...0x5A).contains($0) ? $0 + 0x20 == $1 : $0 == $1 }
            }
        }
        return (hasPrefix("https://") || hasPrefix("http://")) && !value.contains(0x20)
    }

    static func isWebURL(_ value: String) -> Bool {
        let lower = value.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://")) && !value.contains(" ")
    }

    static func word(for outcome: Outcome, in language: Language) -> String {
        switch (outcome, language) {
        case (.validated, .fr): "validé"
        case (.returned, .fr): "retourné"
        case (.rejected, .fr): "refusé"
        case (.awaitingReview, .fr): "en attente de vérification"
        case (.validated, .en): "validated"
        case (.returned, .en): "returned"
        case (.rejected, .en): "rejected"
        case (.awaitingReview, .en): "awaiting review"
        }
    }

    static let frenchMonths = [
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre",
    ]
    static let englishMonths = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    /// Appends `15 janvier 2027 à 9 h 00`, `15 January 2027 at 9:00`, in the structure's time zone.
    func appendDateTime(_ date: Date, to output: inout [UInt8]) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: context.structure.timeZone) ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard let year = parts.year, let month = parts.month, let day = parts.day,
            let calendarDate = CalendarDate(year: year, month: month, day: day)
        else { return }
        Self.appendLongDate(calendarDate, in: context.language, to: &output)
        let hour = parts.hour ?? 0
        let minute = parts.minute ?? 0
        let minutes = minute < 10 ? "0\(minute)" : "\(minute)"
        output.append(contentsOf: (context.language == .fr ? " à \(hour) h \(minutes)" : " at \(hour):\(minutes)").utf8)
    }

    /// Appends `1er septembre 2026`, `1 September 2026`: written out, never locale-dependent.
    static func appendLongDate(_ date: CalendarDate, in language: Language, to output: inout [UInt8]) {
        RFC5322Date.appendDecimal(date.day, to: &output)
        if language == .fr, date.day == 1 { UTF8Text.appendStatic("er", to: &output) }
        output.append(0x20)
        let months = language == .fr ? frenchMonths : englishMonths
        output.append(contentsOf: months[date.month - 1].utf8)
        output.append(0x20)
        RFC5322Date.appendDecimal(date.year, to: &output)
    }
}
