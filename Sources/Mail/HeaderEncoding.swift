/// Header fields for RFC 5322 with RFC 2047 encoded-words, written straight into the message
/// bytes: values are cleaned of control characters, encoded when not plain ASCII, and folded to
/// lines of at most 78 characters.
struct HeaderWriter {
    static let lineLimit = 78
    static let encodedWordLimit = 75

    /// The message being written.
    var bytes: [UInt8]
    /// Every field written, unfolded, in order.
    var headers: [EmailHeader] = []
    /// The display name or subject being encoded.
    var value: [UInt8] = []

    private var name = ""
    private var bodyStart = 0
    /// Characters on the current line of the field.
    private var used = 0
    /// Tokens written in the field.
    private var tokens = 0

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
        headers.reserveCapacity(10)
        value.reserveCapacity(256)
    }

    // MARK: Fields

    /// Starts the field `name` (a literal: never allocated).
    mutating func begin(_ name: String) {
        self.name = name
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ":"))
        bodyStart = bytes.count
        used = name.utf8.count + 1
        tokens = 0
    }

    /// Ends the field: its CRLF, and its unfolded body (without the space after the colon) in
    /// ``headers``.
    mutating func end() {
        let body = bodyStart..<bytes.count
        let unfolded = String(unsafeUninitializedCapacity: body.count) { buffer in
            var count = 0
            var index = body.lowerBound + 1
            while index < body.upperBound {
                if bytes[index] == 0x0D {
                    index += 2
                    continue
                }
                buffer[count] = bytes[index]
                count += 1
                index += 1
            }
            return count
        }
        headers.append(EmailHeader(name: name, value: unfolded))
        bytes.append(contentsOf: [0x0D, 0x0A])
    }

    /// A whole field whose body is written as it is, folds included.
    mutating func field(_ name: String, _ body: StaticString) {
        begin(name)
        UTF8Text.appendStatic(body, to: &bytes)
        end()
    }

    /// Starts a token of `width` characters, on a new line when it would pass the line limit.
    private mutating func beginToken(width: Int) {
        if tokens > 0, used + width + 1 > Self.lineLimit {
            bytes.append(contentsOf: [0x0D, 0x0A])
            used = 0
        }
        bytes.append(0x20)
        used += width + 1
        tokens += 1
    }

    private mutating func token(_ text: some Collection<UInt8>) {
        beginToken(width: text.count)
        bytes.append(contentsOf: text)
    }

    private mutating func angleAddress(_ address: String) {
        beginToken(width: address.utf8.count + 2)
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: address.utf8)
        bytes.append(UInt8(ascii: ">"))
    }

    // MARK: Unstructured and address fields

    /// An unstructured field (Subject) from ``value``: plain words when printable ASCII, else
    /// encoded-words.
    mutating func unstructured(_ name: String) {
        UTF8Text.makeSingleLine(&value, from: 0)
        begin(name)
        let all = value.indices
        if Self.isPlainASCII(value[all]), !Self.containsEncodedWordStart(value[all]), !hasLongWord() {
            var position = 0
            while let word = nextWord(from: &position) { token(value[word]) }
        } else {
            encodedWords(all, firstLineBudget: Self.lineLimit - name.utf8.count - 2)
        }
        end()
    }

    /// An address field: `Display Name <local@domain>`, the display name (``value``, already one
    /// line) encoded apart from the address.
    ///
    /// Plain ASCII names stay readable: atoms, or a quoted-string when they hold specials. Otherwise
    /// words that are plain atoms stay atoms and each run of other words becomes encoded-words (a
    /// space between two encoded-words would vanish on decoding, so a run keeps its spaces inside).
    mutating func mailbox(_ name: String, address: String) {
        begin(name)
        defer { end() }
        guard !value.isEmpty else { return token(address.utf8) }
        let all = value.indices
        if Self.isPlainASCII(value[all]), !Self.containsEncodedWordStart(value[all]) {
            if value.allSatisfy(Self.isAtomOrSpace) {
                var position = 0
                while let word = nextWord(from: &position) { token(value[word]) }
            } else {
                quotedWords()
            }
            return angleAddress(address)
        }
        var run: Range<Int>?
        var position = 0
        while let word = nextWord(from: &position) {
            let text = value[word]
            if Self.isPlainASCII(text), !Self.containsEncodedWordStart(text), text.allSatisfy(Self.isAtomOrSpace) {
                if let pending = run { encodedWords(pending, firstLineBudget: runBudget(name)) }
                run = nil
                token(text)
            } else {
                run = (run?.lowerBound ?? word.lowerBound)..<word.upperBound
            }
        }
        if let pending = run { encodedWords(pending, firstLineBudget: runBudget(name)) }
        angleAddress(address)
    }

    private func runBudget(_ name: String) -> Int {
        tokens == 0 ? Self.lineLimit - name.utf8.count - 2 : Self.encodedWordLimit
    }

    /// The display name as a quoted-string, one token per word: it may fold at its spaces, as
    /// unfolding gives each space back.
    private mutating func quotedWords() {
        var position = 0
        while let word = nextWord(from: &position) {
            // The value is one line: no space before its first word or after its last.
            let first = word.lowerBound == 0
            let last = word.upperBound == value.count
            let escapes = value[word].count(where: Self.needsBackslash)
            beginToken(width: word.count + escapes + (first ? 1 : 0) + (last ? 1 : 0))
            if first { bytes.append(UInt8(ascii: "\"")) }
            for byte in value[word] {
                if Self.needsBackslash(byte) { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            if last { bytes.append(UInt8(ascii: "\"")) }
        }
    }

    /// The next word of ``value`` from `position`, which it moves past the word: the words are
    /// what `split(separator: " ")` gives on the `String`, where a space joined to a neighbour (a
    /// combining mark after it) separates nothing.
    private func nextWord(from position: inout Int) -> Range<Int>? {
        var start = position
        var index = position
        while index < value.count {
            if value[index] == 0x20, UTF8Text.standsAlone(value, at: index, from: 0) {
                if index > start {
                    position = index + 1
                    return start..<index
                }
                start = index + 1
            }
            index += 1
        }
        position = value.count
        return value.count > start ? start..<value.count : nil
    }

    /// Whether a word is too long for a line of its own.
    private func hasLongWord() -> Bool {
        var position = 0
        while let word = nextWord(from: &position) {
            if word.count > Self.lineLimit - 2 { return true }
        }
        return false
    }

    // MARK: Encoded-words

    /// RFC 2047 encoded-words of at most 75 characters for `value[range]`, each holding whole
    /// UTF-8 characters, so every word decodes on its own. Q encoding for mostly-Latin text, B for
    /// the rest.
    private mutating func encodedWords(_ range: Range<Int>, firstLineBudget: Int) {
        let escaped = value[range].count { !Self.isQLiteral($0) && $0 != 0x20 }
        let useBase64 = escaped * 3 > range.count
        let overhead = 12 // =?UTF-8?Q? and ?=
        var budget = min(Self.encodedWordLimit, firstLineBudget)
        var chunk = range.lowerBound..<range.lowerBound
        var chunkLength = 0
        var index = range.lowerBound
        while index < range.upperBound {
            let length = UTF8Text.scalar(value, at: index).length
            let scalarLength = useBase64 ? 0 : value[index..<index + length].reduce(0) { $0 + Self.qLength($1) }
            let newLength = useBase64 ? (chunk.count + length + 2) / 3 * 4 : chunkLength + scalarLength
            if overhead + newLength > budget, !chunk.isEmpty {
                encodedWord(chunk, base64: useBase64, length: chunkLength)
                budget = Self.encodedWordLimit
                chunk = index..<index + length
                chunkLength = useBase64 ? (length + 2) / 3 * 4 : scalarLength
            } else {
                chunk = chunk.lowerBound..<index + length
                chunkLength = newLength
            }
            index += length
        }
        if !chunk.isEmpty { encodedWord(chunk, base64: useBase64, length: chunkLength) }
    }

    private mutating func encodedWord(_ chunk: Range<Int>, base64: Bool, length: Int) {
        beginToken(width: 12 + length)
        UTF8Text.appendStatic(base64 ? "=?UTF-8?B?" : "=?UTF-8?Q?", to: &bytes)
        if base64 {
            Base64.encode(value[chunk], to: &bytes)
        } else {
            for byte in value[chunk] {
                if Self.isQLiteral(byte) {
                    bytes.append(byte)
                } else if byte == 0x20 {
                    bytes.append(UInt8(ascii: "_"))
                } else {
                    bytes.append(contentsOf: [UInt8(ascii: "="), Hex.upper(byte >> 4), Hex.upper(byte & 0x0F)])
                }
            }
        }
        UTF8Text.appendStatic("?=", to: &bytes)
    }

    // MARK: Character classes

    /// Characters RFC 2047 allows unencoded in a Q encoded-word anywhere, phrases included.
    static func isQLiteral(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "!"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    /// The length of a byte in a Q encoded-word: itself, `_` for a space, or `=XX`.
    static func qLength(_ byte: UInt8) -> Int {
        isQLiteral(byte) || byte == 0x20 ? 1 : 3
    }

    static func isPlainASCII(_ text: ArraySlice<UInt8>) -> Bool {
        text.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// Whether `=?` occurs: such text is encoded, so that it never reads as an encoded-word.
    static func containsEncodedWordStart(_ text: ArraySlice<UInt8>) -> Bool {
        zip(text, text.dropFirst()).contains { $0 == UInt8(ascii: "=") && $1 == UInt8(ascii: "?") }
    }

    /// RFC 5322 `atext` or a space (ASCII): a display name made only of these needs no quoting.
    static func isAtomOrSpace(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20, UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func needsBackslash(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}

/// Upper-case hexadecimal digits.
enum Hex {
    static func upper(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x37 + nibble
    }
}

enum HeaderEncoding {
    /// Two upper-case hexadecimal digits (`DurableFile` escapes file names with them).
    static func hex(_ byte: UInt8) -> String {
        String(decoding: [Hex.upper(byte >> 4), Hex.upper(byte & 0x0F)], as: UTF8.self)
    }
}

/// Base64 without Foundation, for encoded-words.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: ArraySlice<UInt8>, to output: inout [UInt8]) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.endIndex ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.endIndex ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < bytes.endIndex ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.endIndex ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
    }
}
