/// Header field bodies for RFC 5322 with RFC 2047 encoded-words: values are cleaned of control
/// characters, encoded when not plain ASCII, and folded to lines of at most 78 characters.
enum HeaderEncoding {
    static let lineLimit = 78
    static let encodedWordLimit = 75

    /// A complete header field, folded, without the final CRLF. Folds are `CRLF SP`.
    struct Field {
        var name: String
        /// The field body's lines; unfolding joins them with nothing (each continuation starts
        /// with its space).
        var lines: [String]

        /// The field body as one line: what a reader sees after unfolding.
        var unfolded: String { lines.joined() }
        var folded: String { "\(name):" + lines.joined(separator: "\r\n") }
    }

    /// Lays tokens out on lines of at most 78 characters, one space apart, starting after `Name:`.
    static func fold(name: String, tokens: [String]) -> Field {
        var lines: [String] = []
        var current = ""
        var used = name.utf8.count + 1  // "Name:"
        for token in tokens {
            let width = token.utf8.count + 1
            if !current.isEmpty, used + width > lineLimit {
                lines.append(current)
                current = ""
                used = 0
            }
            current += " " + token
            used += width
        }
        lines.append(current)
        return Field(name: name, lines: lines)
    }

    /// An unstructured field (Subject): plain words when printable ASCII, else encoded-words.
    static func unstructured(name: String, value: String) -> Field {
        let clean = TextValue.singleLine(value)
        let words = clean.split(separator: " ").map(String.init)
        if isPlainASCII(clean), !clean.contains("=?"), words.allSatisfy({ $0.utf8.count <= lineLimit - 2 }) {
            return fold(name: name, tokens: words)
        }
        return fold(name: name, tokens: encodedWords(clean, firstLineBudget: lineLimit - name.utf8.count - 2))
    }

    /// An address field: `Display Name <local@domain>`, the display name encoded apart from the
    /// address.
    ///
    /// Plain ASCII names stay readable: atoms, or a quoted-string when they hold specials. Otherwise
    /// words that are plain atoms stay atoms and each run of other words becomes encoded-words (a
    /// space between two encoded-words would vanish on decoding, so a run keeps its spaces inside).
    static func mailbox(name: String, mailbox: Mailbox) -> Field {
        let display = TextValue.singleLine(mailbox.name)
        let address = "<\(mailbox.address)>"
        guard !display.isEmpty else { return fold(name: name, tokens: [mailbox.address]) }
        let words = display.split(separator: " ").map(String.init)
        if isPlainASCII(display), !display.contains("=?") {
            if display.allSatisfy(isAtomOrSpace) { return fold(name: name, tokens: words + [address]) }
            // A quoted-string may fold at its spaces: unfolding gives each space back.
            let quotedWords = quoted(display).split(separator: " ").map(String.init)
            return fold(name: name, tokens: quotedWords + [address])
        }
        var tokens: [String] = []
        var run: [String] = []
        func flushRun() {
            guard !run.isEmpty else { return }
            let budget = tokens.isEmpty ? lineLimit - name.utf8.count - 2 : encodedWordLimit
            tokens += encodedWords(run.joined(separator: " "), firstLineBudget: budget)
            run = []
        }
        for word in words {
            if isPlainASCII(word), !word.contains("=?"), word.allSatisfy(isAtomOrSpace) {
                flushRun()
                tokens.append(word)
            } else {
                run.append(word)
            }
        }
        flushRun()
        return fold(name: name, tokens: tokens + [address])
    }

    /// RFC 2047 encoded-words of at most 75 characters, each holding whole UTF-8 characters, so
    /// every word decodes on its own. Q encoding for mostly-Latin text, B for the rest.
    static func encodedWords(_ text: String, firstLineBudget: Int) -> [String] {
        let bytes = Array(text.utf8)
        let escaped = bytes.filter { !isQLiteral($0) && $0 != 0x20 }.count
        let useBase64 = escaped * 3 > bytes.count
        let prefix = useBase64 ? "=?UTF-8?B?" : "=?UTF-8?Q?"
        let overhead = prefix.utf8.count + 2

        var words: [String] = []
        var budget = min(encodedWordLimit, firstLineBudget)
        var chunk: [UInt8] = []
        var chunkLength = 0

        func flush() {
            guard !chunk.isEmpty else { return }
            let body = useBase64 ? Base64.encode(chunk) : chunk.map(qEncode).joined()
            words.append(prefix + body + "?=")
            chunk = []
            chunkLength = 0
            budget = encodedWordLimit
        }

        for scalar in text.unicodeScalars {
            let scalarBytes = Array(String(scalar).utf8)
            let newLength: Int
            if useBase64 {
                newLength = (chunk.count + scalarBytes.count + 2) / 3 * 4
            } else {
                newLength = chunkLength + scalarBytes.map { qEncode($0).utf8.count }.reduce(0, +)
            }
            if overhead + newLength > budget, !chunk.isEmpty {
                flush()
                let fresh =
                    useBase64
                    ? (scalarBytes.count + 2) / 3 * 4 : scalarBytes.map { qEncode($0).utf8.count }.reduce(0, +)
                chunk = scalarBytes
                chunkLength = fresh
            } else {
                chunk += scalarBytes
                chunkLength = newLength
            }
        }
        flush()
        return words
    }

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

    static func qEncode(_ byte: UInt8) -> String {
        if isQLiteral(byte) { return String(UnicodeScalar(byte)) }
        if byte == 0x20 { return "_" }
        return "=" + hex(byte)
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
    }

    static func isPlainASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// RFC 5322 `atext` or a space: a display name made only of these needs no quoting.
    static func isAtomOrSpace(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        if ascii == 0x20 { return true }
        if character.isLetter || character.isNumber { return true }
        return "!#$%&'*+-/=?^_`{|}~".utf8.contains(ascii)
    }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for character in text {
            if character == "\"" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        return result + "\""
    }
}

/// Base64 without Foundation, for encoded-words and bodies alike.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
