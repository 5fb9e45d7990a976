import Testing

@testable import Dossiers

@Suite struct PatternTests {
    @Test(arguments: [
        ("^[A-Za-z0-9._-]{1,64}$", "VLF-0001", true),
        ("^[A-Za-z0-9._-]{1,64}$", "VLF 0001", false),
        ("^[A-Za-z0-9._-]{1,64}$", "VLF-0001\n", false), // ECMA-262 `$`: end of input only
        ("^[A-Za-z0-9._-]{1,64}$", "", false),
        ("^[A-Za-z0-9._-]{1,64}$", String(repeating: "a", count: 65), false),
        ("^[0-9a-f]{64}$", String(repeating: "c", count: 64), true),
        ("^[0-9a-f]{64}$", String(repeating: "C", count: 64), false),
        ("^[a-z0-9][a-z0-9-]{0,62}$", "saint-amour", true),
        ("^[a-z0-9][a-z0-9-]{0,62}$", "-x", false),
        ("^[0-9]{5}$", "69400", true),
        ("^[0-9]{5}$", "6940", false),
        ("[0-9]{2}", "ab12cd", true), // unanchored: a match anywhere
        ("a.c", "xabcx", true),
        ("^a\\.c$", "abc", false),
        ("^[^ ]+$", "é-ok", true),
        ("^[^ ]+$", "not ok", false),
        ("^a*b?c+$", "aaacc", true),
        ("^(ab|cd)$", "cd", true), // beyond the subset: NSRegularExpression
        ("^(ab|cd)$", "ac", false),
    ])
    func matches(pattern: String, text: String, expected: Bool) throws {
        let compiled = try #require(JSONSchema.Pattern(pattern))
        #expect(compiled.matches(text) == expected)
    }

    @Test func recognisesTheSubset() {
        #expect(SimplePattern("^[a-z0-9][a-z0-9-]{0,62}$") != nil)
        #expect(SimplePattern("^(ab|cd)$") == nil)
        #expect(SimplePattern("\\d+") == nil)
        #expect(SimplePattern("a{2,1}") == nil)
        #expect(JSONSchema.Pattern("[unclosed") == nil)
    }
}
