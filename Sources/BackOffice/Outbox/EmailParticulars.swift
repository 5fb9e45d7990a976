import Foundation

/// What an outbox row keeps of its email (`email_outbox.particulars`, a JSON object): what the
/// family's dossier said when the email was decided. ``FamilyEmailStore``'s SQL writes it for
/// administrators' decisions and openings; a worker writes the ones of the dossiers it has just
/// judged itself (``jsonText``), from the content it decoded, sparing the database the JSON.
struct EmailParticulars: Decodable, Sendable, Equatable {
    var language: String
    /// The dossier's id on the portal.
    var dossier: String
    var firstName: String
    var lastName: String
    var children: [Child]
    /// For a validated dossier: `now`, `manual`, or the epoch seconds at which rights open.
    var nextStep: String?
    /// For planning-open: the first day drawn.
    var shownFrom: String?

    struct Child: Decodable, Sendable, Equatable {
        var firstName: String
        var lastName: String
        /// For planning-open: the services the child has rights to in the period, by label.
        var services: [Service]?
    }

    struct Service: Decodable, Sendable, Equatable {
        var label: String
        var weekdays: [Int]
        /// The days the child has already reserved, `YYYY-MM-DD`.
        var reserved: [String]
    }

    init(
        language: String, dossier: String, firstName: String, lastName: String, children: [Child],
        nextStep: String? = nil, shownFrom: String? = nil
    ) {
        (self.language, self.dossier, self.firstName, self.lastName) = (language, dossier, firstName, lastName)
        (self.children, self.nextStep, self.shownFrom) = (children, nextStep, shownFrom)
    }

    /// - Throws: ``UnrenderableEmail`` when the JSON is not of this shape.
    init(json: String, email id: Int64) throws(UnrenderableEmail) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            self = try decoder.decode(Self.self, from: Data(json.utf8))
        } catch {
            throw UnrenderableEmail(id: id, reason: "its particulars are not what 029 writes: \(error)")
        }
    }
}

extension EmailParticulars {
    /// The JSON object, with the keys the SQL writes (an absent value is left out). Written by hand,
    /// in one string: `JSONEncoder` takes about ten microseconds an email here.
    var jsonText: String {
        var json = "{"
        json.reserveCapacity(512)
        JSONText.member("language", language, to: &json, first: true)
        JSONText.member("dossier", dossier, to: &json)
        JSONText.member("first_name", firstName, to: &json)
        JSONText.member("last_name", lastName, to: &json)
        json += ",\"children\":["
        for (index, child) in children.enumerated() {
            if index > 0 { json += "," }
            child.write(to: &json)
        }
        json += "]"
        if let nextStep { JSONText.member("next_step", nextStep, to: &json) }
        if let shownFrom { JSONText.member("shown_from", shownFrom, to: &json) }
        return json + "}"
    }
}

extension EmailParticulars.Child {
    fileprivate func write(to json: inout String) {
        json += "{"
        JSONText.member("first_name", firstName, to: &json, first: true)
        JSONText.member("last_name", lastName, to: &json)
        if let services {
            json += ",\"services\":["
            for (index, service) in services.enumerated() {
                if index > 0 { json += "," }
                service.write(to: &json)
            }
            json += "]"
        }
        json += "}"
    }
}

extension EmailParticulars.Service {
    fileprivate func write(to json: inout String) {
        json += "{"
        JSONText.member("label", label, to: &json, first: true)
        json += ",\"weekdays\":[" + weekdays.map(String.init).joined(separator: ",") + "],\"reserved\":["
        for (index, day) in reserved.enumerated() {
            if index > 0 { json += "," }
            JSONText.append(day, to: &json)
        }
        json += "]}"
    }
}

/// Strings in JSON text.
enum JSONText {
    /// Appends `"key":"value"`, after a comma unless it is the object's first member.
    static func member(_ key: String, _ value: String, to json: inout String, first: Bool = false) {
        json += first ? "\"" : ",\""
        json += key
        json += "\":"
        append(value, to: &json)
    }

    /// Appends a string, escaped as RFC 8259 requires: quote, backslash and the control
    /// characters; everything else as is, in UTF-8.
    static func append(_ value: String, to json: inout String) {
        json += "\""
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            json += value
            json += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                json += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}
