/// The structures configuration contract (`contracts/structures.schema.json`): one JSON document
/// declaring the structures, their services, periods and document kinds.
///
/// Beyond the schema it checks what the schema cannot say: a period ends on or after it starts,
/// its closed dates fall inside it, and codes are unique (structure codes in the file; service,
/// period and document codes within their structure).
public enum StructuresContract {
    static let loadedSchema: Result<JSONSchema, ContractError> = Result { () throws(ContractError) in
        try JSONSchema(text: schemaText)
    }

    /// The structures schema, loaded from ``schemaText``.
    public static var schema: Result<JSONSchema, ContractError> { loadedSchema }

    /// Decodes a structures file.
    ///
    /// - Returns: The structures in file order, or every reason the file breaks the contract (schema
    ///   violations first; the semantic checks run only on a document the schema accepts).
    public static func decode(_ bytes: some Collection<UInt8>) -> Result<[Structure], ContractError> {
        let document: JSONValue
        do {
            document = try JSONParser().parse(bytes)
        } catch {
            return .failure(ContractError(syntax: error))
        }
        return decode(document: document)
    }

    /// Validates an already parsed document and maps it to structures.
    public static func decode(document: JSONValue) -> Result<[Structure], ContractError> {
        let schema: JSONSchema
        switch loadedSchema {
        case .failure(let error): return .failure(error)
        case .success(let loaded): schema = loaded
        }
        let violations = schema.validate(document)
        guard violations.isEmpty else { return .failure(ContractError(violations: violations)) }

        var reader = ContractReader()
        let root = reader.object(document, at: "$")
        let structures = reader.array(root, "structures", at: "$").enumerated().map { index, value in
            structure(value, at: "$.structures[\(index)]", reader: &reader)
        }
        var problems = reader.violations
        problems += semanticViolations(structures)
        return problems.isEmpty ? .success(structures) : .failure(ContractError(violations: problems))
    }

    private static func structure(_ value: JSONValue, at path: String, reader: inout ContractReader) -> Structure {
        let object = reader.object(value, at: path)
        let senderObject = reader.object(object["sender"], at: path + ".sender")
        let sender = Structure.Sender(
            name: reader.string(senderObject, "name", at: path + ".sender"),
            email: reader.string(senderObject, "email", at: path + ".sender"),
            replyTo: reader.optionalString(senderObject, "reply_to"))
        let documentKinds = (object["documents"]?.arrayValue ?? []).enumerated().map { index, value in
            let itemPath = path + ".documents[\(index)]"
            let item = reader.object(value, at: itemPath)
            return Structure.DocumentKind(
                kind: reader.string(item, "kind", at: itemPath), label: reader.string(item, "label", at: itemPath),
                required: reader.bool(item, "required", default: false))
        }
        let services = reader.array(object, "services", at: path).enumerated().map { index, value in
            let itemPath = path + ".services[\(index)]"
            let item = reader.object(value, at: itemPath)
            return Structure.Service(
                code: reader.string(item, "code", at: itemPath), label: reader.string(item, "label", at: itemPath),
                weekdays: (item["weekdays"]?.arrayValue ?? []).compactMap { $0.numberValue?.intValue })
        }
        let periods = reader.array(object, "periods", at: path).enumerated().map { index, value in
            let itemPath = path + ".periods[\(index)]"
            let item = reader.object(value, at: itemPath)
            return Structure.Period(
                code: reader.string(item, "code", at: itemPath), label: reader.string(item, "label", at: itemPath),
                startsOn: reader.date(item["starts_on"], at: itemPath + ".starts_on"),
                endsOn: reader.date(item["ends_on"], at: itemPath + ".ends_on"),
                planningOpensAt: reader.optionalDateTime(item, "planning_opens_at", at: itemPath),
                closedDates: (item["closed_dates"]?.arrayValue ?? []).enumerated().map { dateIndex, date in
                    reader.date(date, at: itemPath + ".closed_dates[\(dateIndex)]")
                })
        }
        let brandingObject = object["branding"]?.objectValue ?? JSONObject()
        let contact = brandingObject["contact"]?.objectValue ?? JSONObject()
        let branding = Branding(
            displayName: reader.optionalString(brandingObject, "display_name"),
            logoURL: reader.optionalString(brandingObject, "logo_url"),
            accentColor: reader.optionalString(brandingObject, "accent_color"),
            phone: reader.optionalString(contact, "phone"), address: reader.optionalString(contact, "address"),
            openingHours: reader.optionalString(contact, "opening_hours"))
        return Structure(
            code: reader.string(object, "code", at: path),
            name: reader.string(object, "name", at: path),
            postalCodes: (object["postal_codes"]?.arrayValue ?? []).compactMap(\.stringValue),
            registrationCode: reader.string(object, "registration_code", at: path),
            timezone: reader.optionalString(object, "timezone") ?? "Europe/Paris",
            language: Language(rawValue: reader.optionalString(object, "locale") ?? "fr") ?? .fr,
            sender: sender,
            portalURL: reader.optionalString(object, "portal_url"),
            branding: branding,
            review: ReviewMode(rawValue: reader.string(object, "review", at: path)) ?? .manual,
            rightsOpening: RightsOpening(rawValue: reader.string(object, "rights_opening", at: path)) ?? .manual,
            documentKinds: documentKinds, services: services, periods: periods)
    }

    /// The rules the schema cannot express, with paths into the file.
    static func semanticViolations(_ structures: [Structure]) -> [ContractViolation] {
        var violations: [ContractViolation] = []
        func checkUnique(_ codes: [String], at path: (Int) -> String, field: String) {
            var firstIndex: [String: Int] = [:]
            for (index, code) in codes.enumerated() {
                if let first = firstIndex[code] {
                    violations.append(
                        ContractViolation(
                            path: path(index) + "." + field,
                            reason: "duplicate code \(JSONValue.string(code).jsonText), first used at \(path(first))"))
                } else {
                    firstIndex[code] = index
                }
            }
        }
        checkUnique(structures.map(\.code), at: { "$.structures[\($0)]" }, field: "code")
        for (structureIndex, structure) in structures.enumerated() {
            let path = "$.structures[\(structureIndex)]"
            checkUnique(structure.services.map(\.code), at: { "\(path).services[\($0)]" }, field: "code")
            checkUnique(structure.periods.map(\.code), at: { "\(path).periods[\($0)]" }, field: "code")
            checkUnique(structure.documentKinds.map(\.kind), at: { "\(path).documents[\($0)]" }, field: "kind")
            violations += brandingViolations(structure.branding, at: path + ".branding")
            for (periodIndex, period) in structure.periods.enumerated() {
                let periodPath = "\(path).periods[\(periodIndex)]"
                if period.endsOn < period.startsOn {
                    violations.append(
                        ContractViolation(
                            path: periodPath + ".ends_on", reason: "is before starts_on (\(period.startsOn))"))
                    continue
                }
                for (dateIndex, date) in period.closedDates.enumerated()
                where date < period.startsOn || date > period.endsOn {
                    violations.append(
                        ContractViolation(
                            path: "\(periodPath).closed_dates[\(dateIndex)]",
                            reason: "\(date) is outside the period (\(period.startsOn) to \(period.endsOn))"))
                }
            }
        }
        return violations
    }

    /// The branding values the schema states as a form but cannot explain: each refusal says what
    /// was given and the accepted form. The lowercase colour is what gets stored.
    static func brandingViolations(_ branding: Branding, at path: String) -> [ContractViolation] {
        var violations: [ContractViolation] = []
        if let color = branding.accentColor, Branding.accentColor(color) == nil {
            violations.append(
                ContractViolation(
                    path: path + ".accent_color",
                    reason: "\(JSONValue.string(color).jsonText) is not a colour; expected \(Branding.accentColorForm)"))
        }
        if let logo = branding.logoURL, !Branding.isLogoURL(logo) {
            violations.append(
                ContractViolation(
                    path: path + ".logo_url",
                    reason: "\(JSONValue.string(String(logo.prefix(80))).jsonText) is not a logo address; expected "
                        + Branding.logoURLForm))
        }
        return violations
    }
}
