internal import CLibXML2
import Dossiers
import Foundation

// The only file that speaks to libxml2. Its types never leave it: documents are parsed, validated,
// turned into `TemplateNode` trees and freed before `load` returns.

/// libxml2's global initialisation, run once, before the first parse.
private let libxml2Initialized: Bool = {
    xmlInitParser()
    return true
}()

/// Collects libxml2's structured errors of one call, through the callback's context pointer.
private final class XMLErrorCollector {
    struct Entry {
        var line: Int?
        var message: String
    }
    var entries: [Entry] = []

    /// The first error, as libxml2 phrased it without its trailing newline.
    var first: Entry? { entries.first }
}

/// The structured error callback: appends to the ``XMLErrorCollector`` passed as context.
/// Declared as `xmlStructuredErrorFunc` so the error pointer's type (which differs between libxml2
/// 2.9 and 2.12) is inferred.
private let collectXMLError: xmlStructuredErrorFunc = { context, error in
    guard let context, let error else { return }
    let collector = Unmanaged<XMLErrorCollector>.fromOpaque(context).takeUnretainedValue()
    let raw = error.pointee.message.map { String(cString: $0) } ?? "unknown XML error"
    let message = raw.trimmingCharacters(in: .whitespacesAndNewlines)
    let line = error.pointee.line > 0 ? Int(error.pointee.line) : nil
    collector.entries.append(.init(line: line, message: message))
}

/// A compiled `email-template.xsd`. Not `Sendable`: used only while a library loads.
final class TemplateSchema {
    fileprivate let schema: xmlSchemaPtr

    /// Reads and compiles the schema at `path`.
    init(path: String) throws(TemplateError) {
        _ = libxml2Initialized
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TemplateError(code: .unreadable, file: path, reason: "the template schema cannot be read")
        }
        let collector = XMLErrorCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        guard let parser = xmlSchemaNewParserCtxt(path) else {
            throw TemplateError(code: .schemaUnusable, file: path, reason: "cannot create a schema parser")
        }
        defer { xmlSchemaFreeParserCtxt(parser) }
        xmlSchemaSetParserStructuredErrors(parser, collectXMLError, context)
        // Schema parsing reports some errors through the parser's own context; route those too.
        xmlSetStructuredErrorFunc(context, collectXMLError)
        defer { xmlSetStructuredErrorFunc(nil, nil) }
        let parsed = withExtendedLifetime(collector) { xmlSchemaParse(parser) }
        guard let parsed else {
            let first = collector.first
            throw TemplateError(
                code: .schemaUnusable, file: path, line: first?.line,
                reason: first?.message ?? "the template schema is not a valid XML Schema")
        }
        schema = parsed
    }

    deinit { xmlSchemaFree(schema) }
}

/// Loads one template file: well-formedness, schema validity, then the template language's own rules.
struct TemplateLoader {
    let schema: TemplateSchema

    /// Parses, validates and compiles `file`.
    /// - Parameters:
    ///   - kind: the kind the file name says; the root's `kind` attribute must agree.
    ///   - language: the language the file name says; the root's `lang` attribute must agree.
    ///   - structureCode: the structure the file overrides for, or `nil` for a default.
    func load(file: String, kind: EmailKind, language: Language, structureCode: String?) throws(TemplateError)
        -> Template
    {
        _ = libxml2Initialized
        guard let data = FileManager.default.contents(atPath: file) else {
            throw TemplateError(code: .unreadable, file: file, reason: "the template file cannot be read")
        }
        let collector = XMLErrorCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        xmlSetStructuredErrorFunc(context, collectXMLError)
        defer { xmlSetStructuredErrorFunc(nil, nil) }

        // No network, no entity substitution, no DTD loading: a template is self-contained.
        let options = Int32(XML_PARSE_NONET.rawValue)
        let document: xmlDocPtr? = withExtendedLifetime(collector) {
            data.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress?.assumingMemoryBound(to: CChar.self) else { return nil }
                return xmlReadMemory(base, Int32(buffer.count), file, nil, options)
            }
        }
        guard let document, collector.entries.isEmpty else {
            if let document { xmlFreeDoc(document) }
            let first = collector.first
            throw TemplateError(
                code: .notWellFormed, file: file, line: first?.line,
                reason: first?.message ?? "the file is not well-formed XML")
        }
        defer { xmlFreeDoc(document) }
        // A template declares no DTD: its entities could name the host's files (the outbox keeps
        // template sets that a database login may have written).
        guard document.pointee.intSubset == nil, document.pointee.extSubset == nil else {
            throw TemplateError(code: .invalidTemplate, file: file, reason: "a template has no DOCTYPE")
        }

        guard let validator = xmlSchemaNewValidCtxt(schema.schema) else {
            throw TemplateError(code: .schemaUnusable, file: file, reason: "cannot create a schema validator")
        }
        defer { xmlSchemaFreeValidCtxt(validator) }
        xmlSchemaSetValidStructuredErrors(validator, collectXMLError, context)
        let status = withExtendedLifetime(collector) { xmlSchemaValidateDoc(validator, document) }
        if status != 0 {
            let first = collector.first
            throw TemplateError(
                code: .schemaInvalid, file: file, line: first?.line,
                reason: first?.message ?? "the template does not follow email-template.xsd")
        }

        guard let root = xmlDocGetRootElement(document) else {
            throw TemplateError(code: .schemaInvalid, file: file, reason: "the document has no root element")
        }
        let compiler = Compiler(file: file)
        if let declared = compiler.attribute(root, "kind"), declared != kind.rawValue {
            throw compiler.error(
                .invalidTemplate, root, "kind=\"\(declared)\" disagrees with the file name (\(kind.rawValue))")
        }
        if let declared = compiler.attribute(root, "lang"), declared != language.rawValue {
            throw compiler.error(
                .invalidTemplate, root, "lang=\"\(declared)\" disagrees with the file name (\(language.rawValue))")
        }
        var subject: [TemplateNode] = []
        var text: [TemplateNode] = []
        var html: [TemplateNode] = []
        for child in compiler.elements(of: root) {
            switch compiler.name(child) {
            case "subject": subject = try compiler.compileChildren(of: child, part: .subject, bindings: [])
            case "text": text = try compiler.compileChildren(of: child, part: .text, bindings: [])
            case "html": html = try compiler.compileChildren(of: child, part: .html, bindings: [])
            default: throw compiler.error(.schemaInvalid, child, "unexpected element <\(compiler.name(child))>")
            }
        }
        return Template(
            kind: kind, language: language, file: file, structureCode: structureCode, subject: subject,
            text: text, html: html)
    }
}

/// The part of a template being compiled; decides how literal text is normalized.
enum TemplatePart {
    case subject, text, html
}

/// Turns a validated libxml2 tree into ``TemplateNode``s, enforcing what the schema cannot say.
private struct Compiler {
    let file: String

    func name(_ node: xmlNodePtr) -> String {
        node.pointee.name.map { String(cString: $0) } ?? ""
    }

    func attribute(_ node: xmlNodePtr, _ name: String) -> String? {
        let value = name.withCString { cName in
            cName.withMemoryRebound(to: xmlChar.self, capacity: name.utf8.count + 1) { xmlGetProp(node, $0) }
        }
        guard let value else { return nil }
        defer { eticket_xmlFree(value) }
        return String(cString: value)
    }

    func line(_ node: xmlNodePtr) -> Int? {
        let line = xmlGetLineNo(node)
        return line > 0 ? Int(line) : nil
    }

    func error(_ code: TemplateError.Code, _ node: xmlNodePtr, _ reason: String) -> TemplateError {
        TemplateError(code: code, file: file, line: line(node), reason: reason)
    }

    func elements(of node: xmlNodePtr) -> [xmlNodePtr] {
        children(of: node).filter { $0.pointee.type == XML_ELEMENT_NODE }
    }

    func children(of node: xmlNodePtr) -> [xmlNodePtr] {
        var result: [xmlNodePtr] = []
        var current = node.pointee.children
        while let child = current {
            result.append(child)
            current = child.pointee.next
        }
        return result
    }

    /// Compiles the content of `node`.
    /// - Parameter atLineStart: whether `node`'s opening tag stands alone on its line (text body only).
    func compileChildren(
        of node: xmlNodePtr, part: TemplatePart, bindings: Set<LoopVariable>, atLineStart: Bool = true
    ) throws(TemplateError) -> [TemplateNode] {
        var result: [TemplateNode] = []
        // In the text body, the line break after a block tag (`<if>`, `</if>`, `<for-each>`,
        // `</for-each>`) that stands alone on its line belongs to the tag, not the email: the
        // first text node after such a tag drops it. An inline loop keeps the text around it.
        var afterBlockTag = part == .text && atLineStart
        var lineStart = atLineStart
        for child in children(of: node) {
            switch child.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                let raw = child.pointee.content.map { String(cString: $0) } ?? ""
                let text = Self.normalize(raw, part: part, afterBlockTag: afterBlockTag)
                afterBlockTag = false
                let tail = raw.split(separator: "\n", omittingEmptySubsequences: false)
                lineStart = raw.contains("\n") && (tail.last ?? "").allSatisfy { $0 == " " || $0 == "\t" }
                if !text.isEmpty { result.append(.text(text)) }
            case XML_ELEMENT_NODE:
                let standalone = lineStart
                let (compiled, isBlock) = try compileElement(
                    child, part: part, bindings: bindings, atLineStart: standalone)
                result.append(compiled)
                afterBlockTag = isBlock && standalone && part == .text
                lineStart = false
            case XML_COMMENT_NODE, XML_PI_NODE:
                continue
            default:
                throw error(.invalidTemplate, child, "unsupported XML node (entity references are not allowed)")
            }
        }
        return result
    }

    private func compileElement(
        _ node: xmlNodePtr, part: TemplatePart, bindings: Set<LoopVariable>, atLineStart: Bool
    ) throws(TemplateError) -> (TemplateNode, isBlock: Bool) {
        let elementName = name(node)
        switch elementName {
        case "value":
            let placeholder = try placeholder(attribute(node, "of") ?? "", at: node, bindings: bindings)
            return (.value(placeholder), false)
        case "if":
            let conditions = ["outcome", "has", "not", "next"].compactMap { key in attribute(node, key).map { (key, $0) } }
            guard conditions.count == 1, let (key, value) = conditions.first else {
                throw error(.invalidTemplate, node, "<if> takes exactly one of outcome, has, not, next")
            }
            let body = try compileChildren(of: node, part: part, bindings: bindings, atLineStart: atLineStart)
            if key == "next" {
                guard ["now", "scheduled", "manual"].contains(value) else {
                    throw error(.invalidTemplate, node, "unknown next step \"\(value)\"; known: now, scheduled, manual")
                }
                return (.ifNext(value, body), true)
            }
            if key == "outcome" {
                guard let outcome = Outcome(rawValue: value), outcome.notifiesFamily else {
                    throw error(.invalidTemplate, node, "unknown outcome \"\(value)\"")
                }
                return (.ifOutcome(outcome, body), true)
            }
            let condition = try condition(value, at: node, bindings: bindings)
            return (.ifPresent(condition, present: key == "has", body), true)
        case "for-each":
            let of = attribute(node, "of") ?? ""
            guard let list = ListSource(rawValue: of) else {
                throw error(
                    .unknownPlaceholder, node,
                    "unknown list \"\(of)\" in <for-each of>; known: \(Template.listNames.joined(separator: ", "))")
            }
            if let needed = list.requiredBinding, !bindings.contains(needed) {
                throw error(.unknownPlaceholder, node, "\"\(of)\" is only known inside <for-each of=\"children\">")
            }
            var inner = bindings
            inner.insert(list.binds)
            let body = try compileChildren(of: node, part: part, bindings: inner, atLineStart: atLineStart)
            return (.forEach(list, separator: attribute(node, "separator") ?? "", body), true)
        case "calendars", "calendar-legend":
            if elementName == "calendars", !bindings.contains(.child) {
                throw error(.unknownPlaceholder, node, "<calendars/> is only known inside <for-each of=\"children\">")
            }
            return (elementName == "calendars" ? .calendars : .calendarLegend, true)
        case "button":
            guard part == .html else {
                throw error(.schemaInvalid, node, "<button> is not allowed outside <html>")
            }
            let placeholder = try placeholder(attribute(node, "href-of") ?? "", at: node, bindings: bindings)
            return (.button(placeholder, try compileChildren(of: node, part: part, bindings: bindings)), false)
        default:
            guard part == .html else {
                throw error(.schemaInvalid, node, "<\(elementName)> is not allowed outside <html>")
            }
            var attributes: [HTMLAttribute] = []
            var hrefOf: Placeholder?
            var property = node.pointee.properties
            while let current = property {
                property = current.pointee.next
                let attributeName = current.pointee.name.map { String(cString: $0) } ?? ""
                let value = attribute(node, attributeName) ?? ""
                if attributeName == "href-of" {
                    hrefOf = try placeholder(value, at: node, bindings: bindings)
                } else {
                    attributes.append(HTMLAttribute(name: attributeName, value: value))
                }
            }
            let body = try compileChildren(of: node, part: part, bindings: bindings)
            return (
                .element(HTMLElement(name: elementName, attributes: attributes, hrefOf: hrefOf, children: body)), false
            )
        }
    }

    private func placeholder(_ name: String, at node: xmlNodePtr, bindings: Set<LoopVariable>) throws(TemplateError)
        -> Placeholder
    {
        guard let placeholder = Placeholder(rawValue: name) else {
            throw error(
                .unknownPlaceholder, node,
                "unknown placeholder \"\(name)\"; known: \(Template.placeholderNames.joined(separator: ", "))")
        }
        if let needed = placeholder.requiredBinding, !bindings.contains(needed) {
            throw error(
                .unknownPlaceholder, node,
                "placeholder \"\(name)\" is only known inside a loop binding \(needed.rawValue)")
        }
        return placeholder
    }

    private func condition(_ name: String, at node: xmlNodePtr, bindings: Set<LoopVariable>) throws(TemplateError)
        -> Condition
    {
        if let list = ListSource(rawValue: name) {
            if let needed = list.requiredBinding, !bindings.contains(needed) {
                throw error(.unknownPlaceholder, node, "\"\(name)\" is only known inside <for-each of=\"children\">")
            }
            return .list(list)
        }
        return .value(try placeholder(name, at: node, bindings: bindings))
    }

    /// Normalizes literal template text for its part: the XML's indentation is layout, not content.
    static func normalize(_ raw: String, part: TemplatePart, afterBlockTag: Bool) -> String {
        switch part {
        case .subject:
            return raw
        case .html:
            // HTML collapses whitespace anyway; keep line breaks so the source stays readable.
            // A no-break space is the author's typography (`«\u{A0}label\u{A0}»`), not layout.
            var result = ""
            var pendingSpace: Character?
            for character in raw {
                if character.isWhitespace, character != "\u{A0}", character != "\u{202F}" {
                    if character.isNewline || pendingSpace == nil { pendingSpace = character.isNewline ? "\n" : " " }
                } else {
                    if let space = pendingSpace { result.append(space) }
                    pendingSpace = nil
                    result.append(character)
                }
            }
            if let space = pendingSpace { result.append(space) }
            return result
        case .text:
            var lines = raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for index in lines.indices.dropFirst() {
                lines[index] = String(lines[index].drop(while: { $0 == " " || $0 == "\t" }))
            }
            if afterBlockTag, lines.count > 1, lines[0].allSatisfy({ $0 == " " || $0 == "\t" }) {
                lines.removeFirst()
            }
            return lines.joined(separator: "\n")
        }
    }
}
