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

    let subject: [TemplateNode]
    let text: [TemplateNode]
    let html: [TemplateNode]
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
