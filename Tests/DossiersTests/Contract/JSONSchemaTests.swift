import Testing

@testable import Dossiers

@Suite struct JSONSchemaTests {
    func violations(_ schema: String, _ instance: String) throws -> [ContractViolation] {
        try JSONSchema(text: schema).validate(JSONParser().parse(instance))
    }

    @Test func refusesKeywordsItDoesNotEnforce() {
        #expect(
            throws: ContractError(violations: [
                ContractViolation(path: "$.properties.a.oneOf", reason: "unsupported keyword"),
                ContractViolation(
                    path: "$.properties.b.format", reason: "unsupported format (supported: date, date-time, email, uri)"),
                ContractViolation(path: #"$.items["$ref"]"#, reason: "unresolvable $ref #/$defs/missing"),
            ])
        ) {
            try JSONSchema(
                text: ##"""
                    {"properties": {"a": {"oneOf": []}, "b": {"format": "ipv4"}}, "items": {"$ref": "#/$defs/missing"}}
                    """##)
        }
    }

    @Test func ignoresAnnotations() throws {
        #expect(
            try violations(#"{"title": "t", "description": "d", "default": 1, "$comment": "c", "type": "integer"}"#, "2") == [])
    }

    @Test func followsReferencesAndKeepsSiblingKeywords() throws {
        let schema = ##"{"$defs": {"small": {"maximum": 3}}, "type": "array", "items": {"$ref": "#/$defs/small", "minimum": 1}}"##
        #expect(
            try violations(schema, "[0, 2, 4]") == [
                ContractViolation(path: "$[0]", reason: "must be at least 1, found 0"),
                ContractViolation(path: "$[2]", reason: "must be at most 3, found 4"),
            ])
    }

    @Test func typeLists() throws {
        let schema = #"{"type": ["integer", "null"]}"#
        #expect(try violations(schema, "null") == [])
        #expect(try violations(schema, "7.0") == [])
        #expect(try violations(schema, "7.5") == [ContractViolation(path: "$", reason: "expected integer or null, found number")])
    }

    @Test func lengthsCountUnicodeScalars() throws {
        let schema = #"{"maxLength": 2}"#
        #expect(try violations(schema, #""😀é""#) == [])
        #expect(try violations(schema, #""abc""#) == [ContractViolation(path: "$", reason: "longer than 2 characters")])
    }

    @Test func oddKeysAreQuotedInPaths() throws {
        let schema = #"{"additionalProperties": false}"#
        #expect(try violations(schema, #"{"a b": 1, "x": 2}"#).map(\.path) == [#"$["a b"]"#, "$.x"])
    }

    @Test(arguments: [
        ("a@b.fr", true), ("a.b+c@sub.example.org", true), ("a@localhost", true),
        ("ab.fr", false), ("a@@b.fr", false), ("@b.fr", false), ("a@", false), ("a b@c.fr", false), ("a@b..fr", false),
        // What the mail composer cannot put in a header is refused here too: one rule for both.
        ("a@b.fr\r\nBcc: c@d.fr", false), ("a@b.fr\n", false), ("é@b.fr", false), ("a@bé.fr", false), ("a@-b.fr", false),
        ("a@b-.fr", false), ("a@b_c.fr", false), (".a@b.fr", false), ("a..b@c.fr", false), ("\"a\"@b.fr", false),
        ("a@b.fr>", false), ("<a@b.fr>", false), (String(repeating: "a", count: 65) + "@b.fr", false),
        ("o'connor+x@b-c.example.fr", true),
    ])
    func emailFormat(address: String, valid: Bool) {
        #expect(ContractFormats.isEmail(address) == valid)
    }

    @Test(arguments: [
        ("https://example.org/x?y#z", true), ("mailto:a@b.fr", true), ("urn:eticket:x", true),
        ("example.org", false), ("1http://x", false), ("https://exa mple.org", false), ("https:", false),
    ])
    func uriFormat(uri: String, valid: Bool) {
        #expect(ContractFormats.isAbsoluteURI(uri) == valid)
    }

    @Test(arguments: [
        ("2024-02-29T23:59:60Z", true), ("2026-01-01T00:00:00.123456+14:00", true),
        ("2023-02-29T00:00:00Z", false), ("2026-01-01T00:00:00", false), ("2026-01-01T00:00:00+0100", false),
        ("2026-01-01T00:60:00Z", false), ("2026-01-01T00:00:00.Z", false), ("2026-01-01 00:00:00Z", false),
        ("2026-12-07T99:99:99Z", false), ("2026-12-07T10:00:60Z", false), ("2026-12-07T24:00:00Z", false),
        ("2027-02-30T10:00:00Z", false), ("2026-12-07T10:00:00Z';DROP", false), ("2026-12-07T10:00:00+24:00", false),
    ])
    func dateTimeFormat(text: String, valid: Bool) {
        #expect((RFC3339.date(from: text) != nil) == valid)
    }
}
