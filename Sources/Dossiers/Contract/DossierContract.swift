/// The dossier import contract (`contracts/dossier.schema.json`): one dossier per JSON Lines line.
///
/// A line is parsed strictly (``JSONParser``), validated against the embedded schema
/// (``schemaText``) with every violation collected, then mapped to a ``Dossier`` with the schema's
/// defaults applied. Whether the structure code exists is the back office's check, not this one.
public enum DossierContract {
    /// The embedded schema, loaded once. A failure here is a programming error that the tests
    /// catch; it is kept as a value so a decode reports it instead of trapping.
    static let loadedSchema: Result<JSONSchema, ContractError> = Result { () throws(ContractError) in
        try JSONSchema(text: schemaText)
    }

    /// The dossier schema, loaded from ``schemaText``.
    public static var schema: Result<JSONSchema, ContractError> { loadedSchema }

    /// Parses and validates one line, without mapping it: the document as submitted, for storing.
    ///
    /// - Parameter line: One JSON Lines line, without its line feed.
    public static func document(line: some Collection<UInt8>) -> Result<JSONValue, ContractError> {
        let document: JSONValue
        do {
            document = try JSONParser().parse(line)
        } catch {
            return .failure(ContractError(syntax: error))
        }
        return validate(document).map { document }
    }

    /// Decodes one line into a dossier.
    ///
    /// - Parameter line: One JSON Lines line, without its line feed (a trailing CR or spaces are
    ///   whitespace and accepted).
    /// - Returns: The dossier, or every reason the line breaks the contract.
    public static func decode(line: some Collection<UInt8>) -> Result<Dossier, ContractError> {
        do {
            return decode(object: try JSONParser().parse(line))
        } catch {
            return .failure(ContractError(syntax: error))
        }
    }

    /// Validates an already parsed document and maps it to a dossier.
    public static func decode(object document: JSONValue) -> Result<Dossier, ContractError> {
        validate(document).flatMap { map(document) }
    }

    private static func validate(_ document: JSONValue) -> Result<Void, ContractError> {
        switch loadedSchema {
        case .failure(let error):
            return .failure(error)
        case .success(let schema):
            let violations = schema.validate(document)
            return violations.isEmpty ? .success(()) : .failure(ContractError(violations: violations))
        }
    }

    private static func map(_ document: JSONValue) -> Result<Dossier, ContractError> {
        var reader = ContractReader()
        let root = reader.object(document, at: "$")
        let accountObject = reader.object(root["account"], at: "$.account")
        let account = Account(
            email: reader.string(accountObject, "email", at: "$.account"),
            firstName: reader.string(accountObject, "first_name", at: "$.account"),
            lastName: reader.string(accountObject, "last_name", at: "$.account"),
            termsAcceptedAt: reader.optionalDateTime(accountObject, "terms_accepted_at", at: "$.account"),
            houseRulesAcceptedAt: reader.optionalDateTime(accountObject, "house_rules_accepted_at", at: "$.account"))

        let children = reader.array(root, "children", at: "$").enumerated().map { index, value in
            let path = "$.children[\(index)]"
            let child = reader.object(value, at: path)
            return Child(
                firstName: reader.string(child, "first_name", at: path),
                lastName: reader.string(child, "last_name", at: path),
                birthDate: reader.date(child["birth_date"], at: path + ".birth_date"),
                school: reader.optionalString(child, "school"),
                grade: reader.optionalString(child, "grade"),
                services: child["services"]?.arrayValue?.compactMap(\.stringValue),
                notes: reader.optionalString(child, "notes"))
        }

        let guardians = reader.array(root, "guardians", at: "$").enumerated().map { index, value in
            let path = "$.guardians[\(index)]"
            let guardian = reader.object(value, at: path)
            let address = guardian["address"]?.objectValue.map { address in
                PostalAddress(
                    line1: reader.optionalString(address, "line1"), line2: reader.optionalString(address, "line2"),
                    postalCode: reader.optionalString(address, "postal_code"), city: reader.optionalString(address, "city"))
            }
            return Guardian(
                firstName: reader.string(guardian, "first_name", at: path),
                lastName: reader.string(guardian, "last_name", at: path),
                relationship: reader.optionalString(guardian, "relationship"),
                email: reader.optionalString(guardian, "email"),
                phone: reader.optionalString(guardian, "phone"),
                address: address,
                isPayer: reader.bool(guardian, "payer", default: false),
                isEmergencyContact: reader.bool(guardian, "emergency_contact", default: false),
                notes: reader.optionalString(guardian, "notes"))
        }

        let trustedPersons = (root["trusted_persons"]?.arrayValue ?? []).enumerated().map { index, value in
            let path = "$.trusted_persons[\(index)]"
            let person = reader.object(value, at: path)
            return TrustedPerson(
                firstName: reader.string(person, "first_name", at: path),
                lastName: reader.string(person, "last_name", at: path),
                relationship: reader.optionalString(person, "relationship"),
                phone: reader.optionalString(person, "phone"),
                canPickUp: reader.bool(person, "can_pick_up", default: true),
                isEmergencyContact: reader.bool(person, "emergency_contact", default: false),
                notes: reader.optionalString(person, "notes"))
        }

        let documents = (root["documents"]?.arrayValue ?? []).enumerated().map { index, value in
            let path = "$.documents[\(index)]"
            let document = reader.object(value, at: path)
            return Document(
                kind: reader.string(document, "kind", at: path),
                filename: reader.string(document, "filename", at: path),
                mediaType: reader.string(document, "media_type", at: path),
                size: reader.int(document, "size", at: path),
                sha256: reader.string(document, "sha256", at: path),
                notes: reader.optionalString(document, "notes"))
        }

        let dossier = Dossier(
            externalID: reader.string(root, "external_id", at: "$"),
            structureCode: reader.string(root, "structure", at: "$"),
            account: account,
            submittedAt: reader.dateTime(root, "submitted_at", at: "$"),
            confirmed: root["confirmed"]?.boolValue ?? false,
            language: Language(rawValue: reader.optionalString(root, "locale") ?? "fr") ?? .fr,
            notes: reader.optionalString(root, "notes"),
            children: children, guardians: guardians, trustedPersons: trustedPersons, documents: documents)
        return reader.violations.isEmpty ? .success(dossier) : .failure(ContractError(violations: reader.violations))
    }
}
