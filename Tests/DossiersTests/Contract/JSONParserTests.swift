import Foundation
import Testing

@testable import Dossiers

@Suite struct JSONParserTests {
    func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try JSONParser().parse(Array(text.utf8))
    }

    func syntaxError(_ bytes: [UInt8]) -> JSONSyntaxError? {
        do {
            _ = try JSONParser().parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    func syntaxError(_ text: String) -> JSONSyntaxError? {
        syntaxError(Array(text.utf8))
    }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" { "b": [true, false, null], "n": -12.5e1, "s": "é\n\u00e9\ud83d\ude00", "o": {}, "a": [] } "#)
        guard case .object(let object) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        #expect(object.keys == ["b", "n", "s", "o", "a"])
        #expect(object["b"] == .array([.bool(true), .bool(false), .null]))
        #expect(object["n"]?.numberValue?.double == -125)
        #expect(object["n"]?.numberValue?.text == "-12.5e1")
        #expect(object["s"] == .string("é\né😀"))
        #expect(object["o"] == .object(JSONObject()))
        #expect(object["a"] == .array([]))
    }

    @Test(arguments: [
        ("0", true), ("-0", true), ("42", true), ("2.0", true), ("1e3", true), ("2.5", false), ("1e-1", false),
        ("123456789012345678901234567890", true),
    ])
    func integerness(literal: String, isInteger: Bool) throws {
        let number = try #require(try parse(literal).numberValue)
        #expect(number.isInteger == isInteger)
        #expect(number.text == literal)
    }

    @Test func booleanIsNotANumber() throws {
        #expect(try parse("true") != parse("1"))
        #expect(try parse("1.0") == parse("1"))
    }

    @Test func objectEqualityIgnoresOrder() throws {
        #expect(try parse(#"{"a":1,"b":2}"#) == parse(#"{"b":2,"a":1}"#))
        #expect(try parse(#"{"a":1,"b":2}"#) != parse(#"{"a":1,"b":3}"#))
    }

    @Test func serializationRoundTrips() throws {
        let text = #"{"k":"a\"b\\c\u0001\t","n":1.50,"l":[null,true,{"x":[]}]}"#
        let value = try parse(text)
        #expect(value.jsonText == text)
        #expect(try parse(value.jsonText) == value)
    }

    @Test(arguments: [
        ("", 0, "empty input, expected a JSON value"),
        ("hello", 0, "unexpected character 'h', expected a value"),
        (#"{"a": 1"#, 7, "unexpected end of input in an object, expected ',' or '}'"),
        (#"{"a": "b"#, 8, "unterminated string"),
        ("[1, 2,]", 6, "trailing comma before ']'"),
        (#"{"a": 1,}"#, 8, "trailing comma before '}'"),
        (#"{"x": 1, "y": 2, "x": 3}"#, 17, #"duplicate key "x""#),
        ("[01]", 1, "leading zeros are not allowed"),
        ("-", 1, "expected a digit"),
        ("1.", 2, "expected a digit after the decimal point"),
        ("1e+", 3, "expected a digit in the exponent"),
        (#"["\ud800"]"#, 2, #"lone surrogate escape \uD800"#),
        (#"["\udc00x"]"#, 2, #"lone surrogate escape \uDC00"#),
        (#"["\ud800\u0041"]"#, 2, #"lone surrogate escape \uD800"#),
        (#"["\x"]"#, 2, #"invalid escape '\' followed by character 'x'"#),
        (#"["\u12G4"]"#, 6, #"invalid hexadecimal digit in a \u escape"#),
        ("[1] [2]", 4, "unexpected character '[' after the JSON value"),
        ("{1: 2}", 1, "unexpected character '1', expected a string key"),
        (#"{"a" 1}"#, 5, #"expected ':' after the key "a""#),
        ("[tru]", 1, "invalid literal, expected true"),
        ("[1 2]", 3, "unexpected character '2' in an array, expected ',' or ']'"),
        ("\"a\tb\"", 2, "unescaped control character U+0009 in a string"),
    ])
    func rejects(text: String, offset: Int, reason: String) {
        let error = syntaxError(text)
        #expect(error?.reason == reason)
        #expect(error?.offset == offset)
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let error = syntaxError(Array(#"{"name": "a"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        #expect(error?.offset == 11)
        #expect(error?.reason == "invalid UTF-8 sequence starting with byte 0xC3")
        #expect(syntaxError(Array(#"[""#.utf8) + [0xFF] + Array(#""]"#.utf8))?.reason == "invalid UTF-8 byte 0xFF")
        // An overlong encoding of '/' and an encoded surrogate are not UTF-8 either.
        #expect(syntaxError(Array(#"[""#.utf8) + [0xC0, 0xAF] + Array(#""]"#.utf8))?.offset == 2)
        #expect(syntaxError(Array(#"[""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""]"#.utf8))?.offset == 2)
        // Truncated at the end of the input.
        #expect(syntaxError(Array(#"[""#.utf8) + [0xE2, 0x82])?.offset == 2)
    }

    @Test func rejectsRawNULInAString() {
        let error = syntaxError(Array(#"{"a": "x"#.utf8) + [0x00] + Array(#"y"}"#.utf8))
        #expect(error?.reason == "unescaped NUL byte in a string")
        #expect(error?.offset == 8)
    }

    @Test func acceptsEscapedNUL() throws {
        #expect(try parse(#""a\u0000b""#) == .string("a\u{0}b"))
    }

    @Test func rejectsDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 1_000) + String(repeating: "]", count: 1_000)
        let error = syntaxError(deep)
        #expect(error?.reason == "nesting deeper than 64 levels")
        #expect(error?.offset == 64)
        let allowed = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(syntaxError(allowed) == nil)
        let deepObjects = String(repeating: #"{"a":"#, count: 1_000)
        #expect(syntaxError(deepObjects)?.reason == "nesting deeper than 64 levels")
    }

    @Test func reportsLineAndColumnInCharacters() {
        let error = syntaxError("{\n  \"é\": tru\n}")
        #expect(error?.line == 2)
        #expect(error?.column == 8)
        #expect(error?.offset == 10)
    }

    @Test func parsesATenMegabyteString() throws {
        // Built from one String: appending chunk by chunk in a debug build takes longer than parsing.
        let chunk = "abcdéfgh\\n" // 11 bytes, 10 once the \n escape is decoded
        let chunks = 10_000_000 / chunk.utf8.count
        var bytes = Array((#"{"blob": ""# + String(repeating: chunk, count: chunks) + #""}"#).utf8)
        let clock = ContinuousClock()
        var parsed: JSONValue?
        let elapsed = clock.measure { parsed = try? JSONParser().parse(bytes) }
        let blob = try #require(parsed?["blob"]?.stringValue)
        #expect(blob.utf8.count == chunks * 10)
        // Generous for a debug build on a shared machine; a quadratic parser takes minutes.
        #expect(elapsed < .seconds(5))
        // The same size with a broken byte near the end fails as fast, at the right offset.
        bytes[bytes.count - 5] = 0xFF
        #expect(syntaxError(bytes)?.offset == bytes.count - 5)
    }

    @Test func parsesFromAnyByteCollection() throws {
        let slice = Array(#"xx[1,2]"#.utf8)[2...]
        #expect(try JSONParser().parse(slice).jsonText == "[1,2]")
        let lazy = #"{"a":true}"#.utf8.lazy.map { $0 }
        #expect(try JSONParser().parse(lazy)["a"] == .bool(true))
    }

    @Test func numberLiteralValidation() {
        #expect(JSONNumber("1.5e3")?.double == 1500)
        #expect(JSONNumber("01") == nil)
        #expect(JSONNumber("1.") == nil)
        #expect(JSONNumber("+1") == nil)
    }
}
