import Dossiers

/// A template rendered for one context: the decoded subject and the two bodies, before MIME.
public struct RenderedContent: Sendable, Equatable {
    /// One line, no control characters.
    public var subject: String
    /// The text/plain body, lines separated by LF, ending with one LF.
    public var text: String
    /// A complete HTML document, lines separated by LF.
    public var html: String
}

extension Template {
    /// Renders the subject and both bodies. Values are inserted as text: HTML-escaped in the HTML
    /// body, stripped of control characters in the subject.
    public func render(_ context: EmailContext) -> RenderedContent {
        let renderer = Renderer(context: context)
        var subject = ""
        renderer.renderText(self.subject, scope: Renderer.Scope(), part: .subject, into: &subject)
        var text = ""
        renderer.renderText(self.text, scope: Renderer.Scope(), part: .text, into: &text)
        var body = ""
        renderer.renderHTML(self.html, scope: Renderer.Scope(), into: &body)
        let cleanSubject = TextValue.singleLine(subject)
        let lang = context.language.rawValue
        let html = """
            <!DOCTYPE html>
            <html lang="\(lang)">
            <head>
            <meta charset="utf-8">
            <title>\(HTMLEscaping.escape(cleanSubject))</title>
            </head>
            <body>
            \(Renderer.tidyHTML(body))
            </body>
            </html>

            """
        return RenderedContent(subject: cleanSubject, text: Renderer.tidyText(text), html: html)
    }
}

/// Cleaning of values before they are inserted anywhere.
enum TextValue {
    /// For bodies: line breaks (CR LF, CR, LF, U+2028, U+2029, NEL) become LF; other control
    /// characters (C0, DEL, C1) become a space; tabs stay.
    static func multiLine(_ value: String) -> String {
        var result = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in value.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0A where previousWasCR: continue
            case 0x0A, 0x0D, 0x85, 0x2028, 0x2029: result.append("\n")
            case 0x09: result.append(scalar)
            case 0x00...0x1F, 0x7F...0x9F: result.append(" ")
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// For headers and one-line fields: every control character, line and paragraph separator
    /// becomes a space, runs of white space become one space, and the ends are trimmed. Nothing
    /// left can end a header line.
    static func singleLine(_ value: String) -> String {
        var result = ""
        var pendingSpace = false
        for scalar in value.unicodeScalars {
            let isSpace: Bool
            switch scalar.value {
            case 0x00...0x20, 0x7F...0x9F, 0x2028, 0x2029: isSpace = true
            // ASCII and Latin/Greek/Cyrillic/… up to U+167F hold no White_Space character: no
            // Unicode property look-up for them (it was 3 % of a worker's time).
            case 0x21...0x7E, 0xA1...0x167F: isSpace = false
            default: isSpace = scalar.properties.isWhitespace
            }
            if isSpace {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.append(" ") }
                pendingSpace = false
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

enum HTMLEscaping {
    /// Escapes text for an HTML text node or a quoted attribute value.
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

/// Walks a template tree for one context.
struct Renderer {
    let context: EmailContext

    struct Scope {
        var child: ChildInfo?
        var service: String?
        var reason: String?
    }

    func value(_ placeholder: Placeholder, _ scope: Scope) -> String {
        let raw: String
        switch placeholder {
        case .dossierExternalID: raw = context.dossierExternalID
        case .accountFirstName: raw = context.account.firstName
        case .accountLastName: raw = context.account.lastName
        case .accountEmail: raw = context.account.email
        case .familyName: raw = context.familyName
        case .structureCode: raw = context.structure.code
        case .structureName: raw = context.structure.name
        case .structurePortalURL: raw = context.structure.portalURL ?? ""
        case .senderName: raw = context.structure.senderName
        case .senderEmail: raw = context.structure.senderEmail
        case .outcome: raw = context.outcome.map { Self.word(for: $0, in: context.language) } ?? ""
        case .periodLabel: raw = context.period?.label ?? ""
        case .periodStartsOn: raw = context.period.map { Self.longDate($0.startsOn, in: context.language) } ?? ""
        case .periodEndsOn: raw = context.period.map { Self.longDate($0.endsOn, in: context.language) } ?? ""
        case .childFirstName: raw = scope.child?.firstName ?? ""
        case .childLastName: raw = scope.child?.lastName ?? ""
        case .serviceLabel: raw = scope.service ?? ""
        case .reasonMessage: raw = scope.reason ?? ""
        }
        // Reasons may run over several lines; every other value is one line (a name with a line
        // break in it shows as one line with a space).
        return placeholder == .reasonMessage ? TextValue.multiLine(raw) : TextValue.singleLine(raw)
    }

    func isPresent(_ condition: Condition, _ scope: Scope) -> Bool {
        switch condition {
        case .value(let placeholder):
            return !value(placeholder, scope).allSatisfy(\.isWhitespace)
        case .list(let list):
            return !items(list, scope).isEmpty
        }
    }

    func items(_ list: ListSource, _ scope: Scope) -> [Scope] {
        switch list {
        case .children:
            return context.children.map {
                var inner = scope
                inner.child = $0
                return inner
            }
        case .services:
            return context.services.map {
                var inner = scope
                inner.service = $0
                return inner
            }
        case .childServices:
            return (scope.child?.services ?? []).map {
                var inner = scope
                inner.service = $0
                return inner
            }
        case .reasons:
            return context.reasons.map {
                var inner = scope
                inner.reason = $0
                return inner
            }
        }
    }

    /// Renders the subject or the text body: values as they are.
    func renderText(_ nodes: [TemplateNode], scope: Scope, part: TemplatePart, into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text): output += text
            case .value(let placeholder): output += value(placeholder, scope)
            case .ifOutcome(let outcome, let body):
                if context.outcome == outcome { renderText(body, scope: scope, part: part, into: &output) }
            case .ifPresent(let condition, let present, let body):
                if isPresent(condition, scope) == present { renderText(body, scope: scope, part: part, into: &output) }
            case .forEach(let list, let separator, let body):
                for (index, inner) in items(list, scope).enumerated() {
                    if index > 0 { output += separator }
                    renderText(body, scope: inner, part: part, into: &output)
                }
            case .element(let element):
                // The schema keeps elements out of subject and text; render their content if one slips by.
                renderText(element.children, scope: scope, part: part, into: &output)
            }
        }
    }

    /// Renders the HTML body: literal markup from the template, values escaped as text.
    func renderHTML(_ nodes: [TemplateNode], scope: Scope, into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text): output += HTMLEscaping.escape(text)
            case .value(let placeholder): output += HTMLEscaping.escape(value(placeholder, scope))
            case .ifOutcome(let outcome, let body):
                if context.outcome == outcome { renderHTML(body, scope: scope, into: &output) }
            case .ifPresent(let condition, let present, let body):
                if isPresent(condition, scope) == present { renderHTML(body, scope: scope, into: &output) }
            case .forEach(let list, let separator, let body):
                for (index, inner) in items(list, scope).enumerated() {
                    if index > 0 { output += HTMLEscaping.escape(separator) }
                    renderHTML(body, scope: inner, into: &output)
                }
            case .element(let element):
                output += "<" + element.name
                for attribute in element.attributes {
                    output += " \(attribute.name)=\"\(HTMLEscaping.escape(attribute.value))\""
                }
                if let hrefOf = element.hrefOf {
                    let target = TextValue.singleLine(value(hrefOf, scope))
                    if Self.isWebURL(target) { output += " href=\"\(HTMLEscaping.escape(target))\"" }
                }
                output += ">"
                if element.name == "br" || element.name == "hr" { continue }
                renderHTML(element.children, scope: scope, into: &output)
                output += "</\(element.name)>"
            }
        }
    }

    /// Only http and https links are made from values: a `javascript:` URL is no link.
    static func isWebURL(_ value: String) -> Bool {
        let lower = value.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://")) && !value.contains(" ")
    }

    /// Trailing spaces off, at most one blank line in a row, no blank lines at the ends, one final LF.
    static func tidyText(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var trimmed = line
            while let last = trimmed.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
            if trimmed.isEmpty, lines.last?.isEmpty ?? true { continue }
            lines.append(trimmed)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Drops the blank lines the template's layout leaves in the HTML.
    static func tidyHTML(_ html: String) -> String {
        html.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.joined(separator: "\n")
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

    /// `1er septembre 2026`, `1 September 2026`: written out, never locale-dependent.
    static func longDate(_ date: CalendarDate, in language: Language) -> String {
        let french = [
            "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
            "novembre", "décembre",
        ]
        let english = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ]
        switch language {
        case .fr: return "\(date.day == 1 ? "1er" : String(date.day)) \(french[date.month - 1]) \(date.year)"
        case .en: return "\(date.day) \(english[date.month - 1]) \(date.year)"
        }
    }
}
