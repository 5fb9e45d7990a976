import Dossiers

/// One loaded, validated email template: a subject, a plain-text body and an HTML body.
///
/// Immutable and `Sendable`: the XML is parsed and compiled (``CompiledPart``) once, at load
/// time; rendering never touches the XML parser.
public struct Template: Sendable {
    public let kind: EmailKind
    public let language: Language
    /// The file it was loaded from.
    public let file: String
    /// The structure this template overrides the default for, or `nil` for a default template.
    public let structureCode: String?

    /// The three parts compiled for rendering.
    let subject: CompiledPart
    let text: CompiledPart
    let html: CompiledPart

    /// Compiles the parsed parts for rendering.
    init(
        kind: EmailKind, language: Language, file: String, structureCode: String?, subject: [TemplateNode],
        text: [TemplateNode], html: [TemplateNode]
    ) {
        self.kind = kind
        self.language = language
        self.file = file
        self.structureCode = structureCode
        self.subject = CompiledPart(subject, html: false)
        self.text = CompiledPart(text, html: false)
        self.html = CompiledPart(html, html: true)
    }
}

/// A template part as rendering walks it: a flat list of operations whose literal text lies in
/// one UTF-8 buffer, already HTML-escaped in the HTML part, with the markup that holds no value
/// folded into the literals around it. Operations hold no reference, so walking them retains
/// nothing; rendering only copies bytes and inserts values.
struct CompiledPart: Sendable {
    var operations: [Operation] = []
    /// Every literal, back to back.
    var literals: [UInt8] = []
    /// Whether the last operation is a literal the next one may extend (not one ending a body).
    private var literalOpen = false

    /// A body is the operations after its opening one, up to `end` (excluded).
    enum Operation: Sendable {
        case literal(Range<Int>)
        case value(Placeholder)
        /// ` href="…"` when the value is a web address; nothing otherwise.
        case href(Placeholder)
        case ifOutcome(Outcome, end: Int)
        case ifPresent(Condition, present: Bool, end: Int)
        /// `<if next="…">`: kept when the context's ``NextStep`` has that name.
        case ifNext(String, end: Int)
        /// `<button href-of>`: the body is the label of a button linking to the value; nothing at
        /// all when the value is not a web address.
        case button(Placeholder, end: Int)
        /// The current child's calendars (``EmailLayout``).
        case calendars
        /// The legend of the marks the calendars show.
        case calendarLegend
        /// The separator is a literal, as it is written between items (escaped in the HTML part).
        case forEach(ListSource, separator: Range<Int>, end: Int)
    }

    /// Compiles parsed nodes; `html` says whether they are the HTML part.
    init(_ nodes: [TemplateNode], html: Bool) {
        for node in nodes { append(node, html: html) }
    }

    private mutating func append(_ node: TemplateNode, html: Bool) {
        switch node {
        case .text(let text): appendLiteral(html ? HTMLEscaping.escape(text) : text)
        case .value(let placeholder): appendOperation(.value(placeholder))
        case .ifOutcome(let outcome, let body):
            appendBody(body, html: html) { .ifOutcome(outcome, end: $0) }
        case .ifPresent(let condition, let present, let body):
            appendBody(body, html: html) { .ifPresent(condition, present: present, end: $0) }
        case .ifNext(let name, let body):
            appendBody(body, html: html) { .ifNext(name, end: $0) }
        case .button(let placeholder, let body) where html:
            appendBody(body, html: html) { .button(placeholder, end: $0) }
        case .button(_, let body):
            for child in body { append(child, html: html) }
        case .calendars: appendOperation(.calendars)
        case .calendarLegend: appendOperation(.calendarLegend)
        case .forEach(let list, let separator, let body):
            let start = literals.count
            literals.append(contentsOf: (html ? HTMLEscaping.escape(separator) : separator).utf8)
            let written = start..<literals.count
            appendBody(body, html: html) { .forEach(list, separator: written, end: $0) }
        case .element(let element) where !html:
            // The schema keeps elements out of subject and text; render their content if one slips by.
            for child in element.children { append(child, html: html) }
        case .element(let element):
            var open = "<" + element.name
            if let style = EmailLayout.defaultStyle[element.name], !element.attributes.contains(where: { $0.name == "style" }) {
                open += " style=\"\(style)\""
            }
            for attribute in element.attributes {
                open += " \(attribute.name)=\"\(HTMLEscaping.escape(attribute.value))\""
            }
            if let hrefOf = element.hrefOf {
                appendLiteral(open)
                appendOperation(.href(hrefOf))
                open = ""
            }
            appendLiteral(open + ">")
            if element.name == "br" || element.name == "hr" { return }
            for child in element.children { append(child, html: html) }
            appendLiteral("</\(element.name)>")
        }
    }

    /// Appends text as it is written (escaping, if any, done): merged with a literal just before.
    private mutating func appendLiteral(_ text: String) {
        let start = literals.count
        literals.append(contentsOf: text.utf8)
        if literalOpen, case .literal(let previous)? = operations.last, previous.upperBound == start {
            operations[operations.count - 1] = .literal(previous.lowerBound..<literals.count)
        } else if literals.count > start {
            operations.append(.literal(start..<literals.count))
            literalOpen = true
        }
    }

    private mutating func appendOperation(_ operation: Operation) {
        operations.append(operation)
        literalOpen = false
    }

    /// Appends an opening operation, its body, then the opening with the body's end filled in.
    private mutating func appendBody(
        _ body: [TemplateNode], html: Bool, _ opening: (Int) -> Operation
    ) {
        let index = operations.count
        appendOperation(opening(0))
        for child in body { append(child, html: html) }
        operations[index] = opening(operations.count)
        literalOpen = false
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
    /// `<if next="now|scheduled|manual">`.
    case ifNext(String, [TemplateNode])
    /// `<button href-of="…">label</button>`.
    case button(Placeholder, [TemplateNode])
    /// `<calendars/>`, inside `<for-each of="children">`.
    case calendars
    /// `<calendar-legend/>`.
    case calendarLegend
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
    case reasonAction = "reason.action"
    case planningOpensAt = "planning.opens_at"

    /// The loop variable this value needs to be inside of, if any.
    var requiredBinding: LoopVariable? {
        switch self {
        case .childFirstName, .childLastName: .child
        case .serviceLabel: .service
        case .reasonMessage, .reasonAction: .reason
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
