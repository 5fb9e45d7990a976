import Dossiers

/// One loaded, validated email template: a subject, a plain-text body and an HTML body.
///
/// Immutable and `Sendable`: the XML is parsed into this tree once, at load time; rendering never
/// touches the XML parser.
public struct Template: Sendable {
    public let kind: EmailKind
    public let language: Language
    /// The file it was loaded from.
    public let file: String
    /// The structure this template overrides the default for, or `nil` for a default template.
    public let structureCode: String?

    /// The three parts compiled for rendering (see ``RenderNode``).
    let subject: [RenderNode]
    let text: [RenderNode]
    let html: [RenderNode]

    /// Compiles the parsed parts for rendering.
    init(
        kind: EmailKind, language: Language, file: String, structureCode: String?, subject: [TemplateNode],
        text: [TemplateNode], html: [TemplateNode]
    ) {
        self.kind = kind
        self.language = language
        self.file = file
        self.structureCode = structureCode
        self.subject = RenderNode.compile(subject, html: false)
        self.text = RenderNode.compile(text, html: false)
        self.html = RenderNode.compile(html, html: true)
    }
}

/// A template part as rendering walks it: literal text already in UTF-8 (and already HTML-escaped
/// in the HTML part), markup that holds no value folded into the literals around it, and
/// neighbouring literals merged. Rendering then only copies bytes and inserts values.
indirect enum RenderNode: Sendable {
    case literal([UInt8])
    case value(Placeholder)
    /// ` href="…"` when the value is a web address; nothing otherwise.
    case href(Placeholder)
    case ifOutcome(Outcome, [RenderNode])
    case ifPresent(Condition, present: Bool, [RenderNode])
    /// The separator as it is written between items (escaped in the HTML part).
    case forEach(ListSource, separator: [UInt8], [RenderNode])

    /// Compiles parsed nodes; `html` says whether they are the HTML part.
    static func compile(_ nodes: [TemplateNode], html: Bool) -> [RenderNode] {
        var result: [RenderNode] = []
        for node in nodes { append(node, html: html, to: &result) }
        return result
    }

    private static func append(_ node: TemplateNode, html: Bool, to result: inout [RenderNode]) {
        func literal(_ text: String) {
            let bytes = Array((html ? HTMLEscaping.escape(text) : text).utf8)
            if case .literal(let previous)? = result.last {
                result[result.count - 1] = .literal(previous + bytes)
            } else if !bytes.isEmpty {
                result.append(.literal(bytes))
            }
        }
        switch node {
        case .text(let text): literal(text)
        case .value(let placeholder): result.append(.value(placeholder))
        case .ifOutcome(let outcome, let body): result.append(.ifOutcome(outcome, compile(body, html: html)))
        case .ifPresent(let condition, let present, let body):
            result.append(.ifPresent(condition, present: present, compile(body, html: html)))
        case .forEach(let list, let separator, let body):
            let written = html ? HTMLEscaping.escape(separator) : separator
            result.append(.forEach(list, separator: Array(written.utf8), compile(body, html: html)))
        case .element(let element) where !html:
            // The schema keeps elements out of subject and text; render their content if one slips by.
            for child in element.children { append(child, html: html, to: &result) }
        case .element(let element):
            var open = "<" + element.name
            for attribute in element.attributes {
                open += " \(attribute.name)=\"\(HTMLEscaping.escape(attribute.value))\""
            }
            if let hrefOf = element.hrefOf {
                appendMarkup(open, to: &result)
                result.append(.href(hrefOf))
                open = ""
            }
            appendMarkup(open + ">", to: &result)
            if element.name == "br" || element.name == "hr" { return }
            for child in element.children { append(child, html: html, to: &result) }
            appendMarkup("</\(element.name)>", to: &result)
        }
    }

    /// Appends template markup as it is (``literal`` escapes text).
    private static func appendMarkup(_ markup: String, to result: inout [RenderNode]) {
        if case .literal(let previous)? = result.last {
            result[result.count - 1] = .literal(previous + Array(markup.utf8))
        } else {
            result.append(.literal(Array(markup.utf8)))
        }
    }
}

/// A node of a template body, as parsed from the XML.
indirect enum TemplateNode: Sendable {
    /// Literal template text (already whitespace-normalized for its part).
    case text(String)
    /// `<value of="…"/>`: a value inserted as text.
    case value(Placeholder)
    /// `<if outcome="…">`: kept only for that outcome.
    case ifOutcome(Outcome, [TemplateNode])
    /// `<if has="…">` / `<if not="…">`: kept when the value or list is (not) empty.
    case ifPresent(Condition, present: Bool, [TemplateNode])
    /// `<for-each of="…" separator="…">`.
    case forEach(ListSource, separator: String, [TemplateNode])
    /// An XHTML element of the HTML body.
    case element(HTMLElement)
}

/// An XHTML element of a template's HTML body.
struct HTMLElement: Sendable {
    var name: String
    /// Literal attributes, in document order.
    var attributes: [HTMLAttribute]
    /// `<a href-of="…">`: a link whose target is a value.
    var hrefOf: Placeholder?
    var children: [TemplateNode]
}

struct HTMLAttribute: Sendable {
    var name: String
    var value: String
}

/// What `<if has>` may test: a single value or a list.
enum Condition: Sendable {
    case value(Placeholder)
    case list(ListSource)
}

/// A value a template may show. The raw value is the name templates use.
enum Placeholder: String, CaseIterable, Sendable {
    case dossierExternalID = "dossier.external_id"
    case accountFirstName = "account.first_name"
    case accountLastName = "account.last_name"
    case accountEmail = "account.email"
    case familyName = "family.name"
    case structureCode = "structure.code"
    case structureName = "structure.name"
    case structurePortalURL = "structure.portal_url"
    case senderName = "sender.name"
    case senderEmail = "sender.email"
    case outcome = "outcome"
    case periodLabel = "period.label"
    case periodStartsOn = "period.starts_on"
    case periodEndsOn = "period.ends_on"
    case childFirstName = "child.first_name"
    case childLastName = "child.last_name"
    case serviceLabel = "service.label"
    case reasonMessage = "reason.message"

    /// The loop variable this value needs to be inside of, if any.
    var requiredBinding: LoopVariable? {
        switch self {
        case .childFirstName, .childLastName: .child
        case .serviceLabel: .service
        case .reasonMessage: .reason
        default: nil
        }
    }
}

/// A list a template may loop over; each turn binds one ``LoopVariable``.
enum ListSource: String, CaseIterable, Sendable {
    case children = "children"
    case services = "services"
    case reasons = "reasons"
    /// The current child's services, inside `<for-each of="children">`.
    case childServices = "child.services"

    var binds: LoopVariable {
        switch self {
        case .children: .child
        case .services, .childServices: .service
        case .reasons: .reason
        }
    }

    var requiredBinding: LoopVariable? { self == .childServices ? .child : nil }
}

enum LoopVariable: String, Sendable {
    case child, service, reason
}

extension Template {
    /// Every name `<value of>` accepts, for documentation and error messages.
    public static var placeholderNames: [String] { Placeholder.allCases.map(\.rawValue) }
    /// Every name `<for-each of>` accepts.
    public static var listNames: [String] { ListSource.allCases.map(\.rawValue) }
}
