import Dossiers
import Foundation

/// What an outbox row keeps of its email (`email_outbox.particulars`, a JSON object): what the
/// family's dossier said when the email was decided. ``FamilyEmailStore``'s SQL writes it for
/// administrators' decisions and openings; a worker writes the ones of the dossiers it has just
/// judged itself (``jsonText``), from the content it decoded, sparing the database the JSON.
struct EmailParticulars: Sendable, Equatable {
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

    struct Child: Sendable, Equatable {
        var firstName: String
        var lastName: String
        /// For planning-open: the services the child has rights to in the period, by label.
        var services: [Service]?
    }

    struct Service: Sendable, Equatable {
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

    /// - Throws: ``UnrenderableEmail`` when the JSON is not of this shape. Other members are
    ///   ignored, and `null` stands for an absent optional member.
    init(json: String, email id: Int64) throws(UnrenderableEmail) {
        let why: String
        do {
            self = try Self(reading: try JSONParser().parse(json.utf8))
            return
        } catch let error as JSONSyntaxError {
            // By offset only: the parser's reason may quote a key, and the particulars are a family's.
            why = "not valid JSON (byte \(error.offset))"
        } catch {
            why = "\(error)"
        }
        throw UnrenderableEmail(id: id, reason: "its particulars are not what 029 writes: \(why)")
    }
}

// Read from the parser's tree by hand: Foundation's JSONDecoder, with its snake-case keys, took a
// sixth of the export's CPU.
extension EmailParticulars {
    fileprivate init(reading json: JSONValue) throws(ParticularsShapeError) {
        let object = try PathedObject(json, at: "")
        language = try object.string("language")
        dossier = try object.string("dossier")
        firstName = try object.string("first_name")
        lastName = try object.string("last_name")
        children = try object.array("children").map { path, child throws(ParticularsShapeError) in
            try Child(reading: try PathedObject(child, at: path))
        }
        nextStep = try object.optionalString("next_step")
        shownFrom = try object.optionalString("shown_from")
    }
}

extension EmailParticulars.Child {
    fileprivate init(reading object: PathedObject) throws(ParticularsShapeError) {
        firstName = try object.string("first_name")
        lastName = try object.string("last_name")
        services = try object.optionalArray("services")?.map { path, service throws(ParticularsShapeError) in
            try EmailParticulars.Service(reading: try PathedObject(service, at: path))
        }
    }
}

extension EmailParticulars.Service {
    fileprivate init(reading object: PathedObject) throws(ParticularsShapeError) {
        label = try object.string("label")
        weekdays = try object.array("weekdays").map { path, day throws(ParticularsShapeError) in
            guard let number = day.numberValue, number.isInteger, let weekday = Int(exactly: number.double) else {
                throw ParticularsShapeError(path: path, expected: "an integer")
            }
            return weekday
        }
        reserved = try object.array("reserved").map { path, day throws(ParticularsShapeError) in
            guard let text = day.stringValue else { throw ParticularsShapeError(path: path, expected: "a string") }
            return text
        }
    }
}

/// Where the particulars leave the shape 029 writes, by path (`children[1].services[0].label`),
/// never with the value found there: the particulars are a family's personal data.
private struct ParticularsShapeError: Error, CustomStringConvertible {
    var path: String
    var expected: String

    var description: String { "\(path.isEmpty ? "the document" : path) is not \(expected)" }
}

/// A JSON object and where it sits in the particulars, for ``ParticularsShapeError``.
private struct PathedObject {
    var object: JSONObject
    var path: String

    /// `value`, which must be an object, found at `path` (`""` for the document).
    init(_ value: JSONValue, at path: String) throws(ParticularsShapeError) {
        guard let object = value.objectValue else { throw ParticularsShapeError(path: path, expected: "an object") }
        (self.object, self.path) = (object, path)
    }

    func path(of key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func string(_ key: String) throws(ParticularsShapeError) -> String {
        guard let text = object[key]?.stringValue else { throw ParticularsShapeError(path: path(of: key), expected: "a string") }
        return text
    }

    func optionalString(_ key: String) throws(ParticularsShapeError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard let text = value.stringValue else { throw ParticularsShapeError(path: path(of: key), expected: "a string") }
        return text
    }

    /// The array's elements, each with its path.
    func array(_ key: String) throws(ParticularsShapeError) -> [(path: String, value: JSONValue)] {
        guard let elements = object[key]?.arrayValue else {
            throw ParticularsShapeError(path: path(of: key), expected: "an array")
        }
        let prefix = path(of: key)
        return elements.enumerated().map { ("\(prefix)[\($0.offset)]", $0.element) }
    }

    func optionalArray(_ key: String) throws(ParticularsShapeError) -> [(path: String, value: JSONValue)]? {
        guard let value = object[key], value != .null else { return nil }
        return try array(key)
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
