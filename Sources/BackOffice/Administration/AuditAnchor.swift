import Foundation
import Postgres

/// The head of one structure's event chains at one moment, for the operator to keep outside the
/// database: whoever can rewrite a whole chain (the schema's owner) can make it verify again, but
/// cannot make it extend an anchor taken before the rewrite.
public struct AuditAnchor: Sendable, Equatable, Codable {
    public var structure: String
    /// The last event of the structure's dossiers when the anchor was taken.
    var lastEventID: Int64
    /// Events of the structure's dossiers up to `lastEventID`.
    public var events: Int
    /// SHA-256 over the last hash of each dossier's chain up to `lastEventID`, by dossier id.
    var digest: String

    public init(structure: String, lastEventID: Int64, events: Int, digest: String) {
        self.structure = structure
        self.lastEventID = lastEventID
        self.events = events
        self.digest = digest
    }

    /// The accepted form of a line, for error messages.
    public static let lineForm = "STRUCTURE LAST_EVENT_ID EVENTS SHA256 (e.g. villefranche 1234 1200 followed by 64 hex digits)"

    /// One line per structure; `#` starts a comment line.
    public static func text(of anchors: [AuditAnchor], takenAt: Date) -> String {
        var text = "# eticket audit anchor, taken \(takenAt.postgresText)\n# \(lineForm)\n"
        for anchor in anchors {
            text += "\(anchor.structure) \(anchor.lastEventID) \(anchor.events) \(anchor.digest)\n"
        }
        return text
    }

    /// Reads an anchor file written by ``text(of:takenAt:)``.
    ///
    /// - Throws: ``BackOfficeError`` `.badInput` naming the file, the line, what was wrong and the
    ///   accepted form.
    public static func parse(_ text: String, file: String) throws -> [AuditAnchor] {
        var anchors: [AuditAnchor] = []
        var seen: [String: Int] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            func refuse(_ what: String) -> BackOfficeError {
                BackOfficeError(.badInput, "\(file):\(number): \(what); a line reads \(lineForm)")
            }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count == 4 else { throw refuse("\(fields.count) fields where 4 are expected") }
            let structure = fields[0]
            guard structure.range(of: #"^[a-z0-9][a-z0-9-]{0,62}$"#, options: .regularExpression) != nil else {
                throw refuse("the structure code is not a code (lowercase letters, digits and '-')")
            }
            guard fields[1].allSatisfy(\.isASCIIDigit), let last = Int64(fields[1]), last > 0 else {
                throw refuse("LAST_EVENT_ID \(fields[1].prefix(40)) is not a positive whole number")
            }
            guard fields[2].allSatisfy(\.isASCIIDigit), let events = Int(fields[2]), events > 0 else {
                throw refuse("EVENTS \(fields[2].prefix(40)) is not a positive whole number")
            }
            guard fields[3].count == 64, fields[3].allSatisfy({ $0.isASCIIDigit || ("a"..."f").contains($0) }) else {
                throw refuse("the digest is not 64 lowercase hexadecimal digits")
            }
            if let first = seen[structure] {
                throw refuse("structure \(structure) is anchored twice (also line \(first))")
            }
            seen[structure] = number
            anchors.append(AuditAnchor(structure: structure, lastEventID: last, events: events, digest: fields[3]))
        }
        guard !anchors.isEmpty else {
            throw BackOfficeError(.badInput, "\(file): no anchor in the file; a line reads \(lineForm)")
        }
        return anchors
    }
}

/// A structure whose chains no longer extend what was anchored.
public struct AnchorBreak: Sendable, Equatable, Codable {
    public var structure: String
    public var reason: String
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Administration {
    /// The current head of every structure's chains (one anchor per structure with events).
    ///
    /// Waits for the transactions writing events to finish (a SHARE lock on dossier_events, which
    /// the owner holds the right to take): an event id drawn by a transaction still running could
    /// otherwise commit below the anchored last id and make the anchor look broken later.
    public func anchorAudit() throws -> [AuditAnchor] {
        try database("cannot anchor the audit trail") {
            try connection.transaction { connection in
                let store = AuditStore(connection: connection)
                try store.waitForEventWriters()
                return try store.heads(upTo: nil)
            }
        }
    }

    /// Names each anchored structure whose chains no longer extend its anchor: an event up to the
    /// anchored one was changed, removed or added, or every chain was rewritten and rehashed.
    func anchorBreaks(_ anchors: [AuditAnchor]) throws -> [AnchorBreak] {
        let now = Dictionary(
            uniqueKeysWithValues: try AuditStore(connection: connection).heads(upTo: anchors).map { ($0.structure, $0) })
        return anchors.compactMap { anchored in
            guard let current = now[anchored.structure] else {
                return AnchorBreak(
                    structure: anchored.structure,
                    reason: anchored.events == 1
                        ? "the one event anchored (event \(anchored.lastEventID)) is gone"
                        : "none of the \(anchored.events) events anchored up to event \(anchored.lastEventID) is left")
            }
            if current.events != anchored.events {
                return AnchorBreak(
                    structure: anchored.structure,
                    reason: "\(current.events) \(current.events == 1 ? "event" : "events") up to event \(anchored.lastEventID) "
                        + "where \(anchored.events) \(anchored.events == 1 ? "was" : "were") anchored")
            }
            if current.digest != anchored.digest {
                return AnchorBreak(
                    structure: anchored.structure,
                    reason: "the chains up to event \(anchored.lastEventID) no longer end where they were anchored (rewritten)")
            }
            return nil
        }
    }
}
