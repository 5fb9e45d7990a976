import SeededGenerator

/// Names built to break quoting done by grapheme: quotes and backslashes behind the prepended
/// concatenation marks U+0600–U+0605 (which join the character after them into one `Character`),
/// combining marks, zero-width joiners, and what is left of invalid UTF-8 once decoded.
enum HostileNames {
    static let fragments: [String] = [
        "\"", "'", "\\", "\u{0600}\"", "\u{0601}'", "\u{0602}\\", "\u{0603}", "\u{0604}", "\u{0605}", "\u{0301}",
        "\u{200D}", "\u{200D}\"", "e\u{0301}'", "a", "Z", " ", ";", "--", "=", "/*", "$$", "é",
        "👩\u{200D}👧", String(decoding: [0xC3, 0x28], as: UTF8.self), String(decoding: [0xFF, 0x22], as: UTF8.self),
    ]

    /// The names the issue met, then `count` more drawn from the fragments with a fixed seed, each
    /// at most 60 bytes (PostgreSQL cuts identifiers at 63).
    static func names(count: Int = 200) -> [String] {
        // Seeded, so that a failing name is the same on every run.
        var generator = SeededRandom(seed: 0x5EED_0600)
        var names = [
            "x\u{0600}\"; GRANT eticket_worker TO victim; --", "\u{0600}'", "\u{0600}\"", "a\u{0605}\"\"b",
            "it's \\ a name", "\u{0600}' host=attacker.example",
        ]
        while names.count < count {
            var name = ""
            for _ in 0..<Int(generator.next() % 8 + 1) {
                let fragment = fragments[Int(generator.next() % UInt64(fragments.count))]
                if name.utf8.count + fragment.utf8.count > 60 { break }
                name += fragment
            }
            names.append(name)
        }
        return names
    }
}
