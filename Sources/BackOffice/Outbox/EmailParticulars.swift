import Dossiers
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
    /// The JSON object, with the keys the SQL writes (an absent value is left out), its strings
    /// escaped by the contract's writer (`JSONValue.writeString`). Written by hand, in one
    /// string: `JSONEncoder` takes about ten microseconds an email here.
    var jsonText: String {
        var json = "{"
        json.reserveCapacity(512)
        appendMember("language", language, to: &json, first: true)
        appendMember("dossier", dossier, to: &json)
        appendMember("first_name", firstName, to: &json)
        appendMember("last_name", lastName, to: &json)
        json += ",\"children\":["
        for (index, child) in children.enumerated() {
            if index > 0 { json += "," }
            child.write(to: &json)
        }
        json += "]"
        if let nextStep { appendMember("next_step", nextStep, to: &json) }
        if let shownFrom { appendMember("shown_from", shownFrom, to: &json) }
        return json + "}"
    }
}

extension EmailParticulars.Child {
    fileprivate func write(to json: inout String) {
        json += "{"
        appendMember("first_name", firstName, to: &json, first: true)
        appendMember("last_name", lastName, to: &json)
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
        appendMember("label", label, to: &json, first: true)
        json += ",\"weekdays\":[" + weekdays.map(String.init).joined(separator: ",") + "],\"reserved\":["
        for (index, day) in reserved.enumerated() {
            if index > 0 { json += "," }
            JSONValue.writeString(day, to: &json)
        }
        json += "]}"
    }
}

/// Appends `"key":"value"` to `json`, after a comma unless it is the object's first member.
private func appendMember(_ key: String, _ value: String, to json: inout String, first: Bool = false) {
    json += first ? "\"" : ",\""
    json += key
    json += "\":"
    JSONValue.writeString(value, to: &json)
}
