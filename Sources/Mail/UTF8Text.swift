/// Byte-level text operations for rendering: the value cleaning, HTML escaping and whitespace
/// tidying rendering used to do on `String`s, done on UTF-8 buffers with the same results.
///
/// The `String` versions compared `Character`s (grapheme clusters), so an ASCII character joined to
/// a neighbour (`&` followed by a combining accent, a space after an Arabic prepended mark) was not
/// that character to them. These functions keep that behaviour exactly: they ask the standard
/// library whenever a neighbour could join (``joins(_:_:)``), which plain text never needs.
enum UTF8Text {
    /// Decodes the scalar whose first byte is at `index` (the buffer holds valid UTF-8).
    @inline(__always)
    static func scalar(_ bytes: [UInt8], at index: Int) -> (value: UInt32, length: Int) {
        bytes.withUnsafeBufferPointer { scalar($0, at: index) }
    }

    @inline(__always)
    static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
        let lead = UInt32(bytes[index])
        if lead < 0x80 { return (lead, 1) }
        if lead < 0xE0 { return ((lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F), 2) }
        if lead < 0xF0 {
            return ((lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F), 3)
        }
        let value =
            (lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
            | UInt32(bytes[index + 3] & 0x3F)
        return (value, 4)
    }

    /// The scalar that ends just before `index`, not looking before `start`.
    static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, before index: Int, from start: Int) -> UInt32? {
        guard index > start else { return nil }
        var first = index - 1
        while first > start, bytes[first] & 0xC0 == 0x80 { first -= 1 }
        return scalar(bytes, at: first).value
    }

    static func append(_ scalar: Unicode.Scalar, to output: inout [UInt8]) {
        if scalar.value < 0x80 {
            output.append(UInt8(scalar.value))
        } else {
            UTF8.encode(scalar) { output.append($0) }
        }
    }

    /// Whether two adjacent scalars form one `Character`. Only Prepend marks (U+0600 and up) join
    /// what follows them, and only Extend, SpacingMark and ZWJ scalars (U+0300 and up) join what
    /// precedes them; for the rest the standard library decides, on a small (inline) string.
    static func joins(_ first: UInt32, _ second: UInt32) -> Bool {
        if first < 0x600, second < 0x300 { return false }
        guard let a = Unicode.Scalar(first), let b = Unicode.Scalar(second) else { return false }
        var pair = String()
        pair.unicodeScalars.append(a)
        pair.unicodeScalars.append(b)
        return pair.count == 1
    }

    /// Whether the ASCII byte at `index` is a `Character` of its own within `start..<bytes.count`.
    static func standsAlone(_ bytes: [UInt8], at index: Int, from start: Int) -> Bool {
        bytes.withUnsafeBufferPointer { standsAlone($0, at: index, from: start) }
    }

    static func standsAlone(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, from start: Int) -> Bool {
        let byte = UInt32(bytes[index])
        if index > start, bytes[index - 1] >= 0x80, let previous = scalar(bytes, before: index, from: start),
            joins(previous, byte)
        {
            return false
        }
        // Lead bytes below 0xCC start scalars below U+0300, which never join what precedes them.
        if index + 1 < bytes.count, bytes[index + 1] >= 0xCC, joins(byte, scalar(bytes, at: index + 1).value) {
            return false
        }
        return true
    }

    // MARK: Values

    /// Unicode's White_Space property (`Unicode.Scalar.Properties.isWhitespace`), whose list has
    /// not changed since Unicode 6.3, without the property table look-up.
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Whether a scalar counts as white space for ``appendSingleLine(_:to:)``: controls, line and
    /// paragraph separators and Unicode white space.
    @inline(__always)
    static func isSingleLineSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x20, 0x7F...0x9F: return true
        default: return isWhitespace(scalar.value)
        }
    }

    /// Whether `value` is already one clean line: no white space or control character but single
    /// spaces inside. Such text (nearly every value) is copied as it is.
    static func isSingleLine(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = utf8.first, let last = utf8.last, first != 0x20, last != 0x20 else { return utf8.isEmpty }
        var previous: UInt8 = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            switch byte {
            case 0x21...0x7E: break
            case 0x20: if previous == 0x20 { return false }
            case 0x00...0x1F, 0x7F: return false
            // U+0080–U+00A0: C1 controls and the no-break space.
            case 0xC2: if utf8[index + 1] <= 0xA0 { return false }
            // U+1xxx, U+2xxx, U+3xxx: the other white space above ASCII.
            case 0xE1, 0xE2, 0xE3:
                let value =
                    UInt32(byte & 0x0F) << 12 | UInt32(utf8[index + 1] & 0x3F) << 6 | UInt32(utf8[index + 2] & 0x3F)
                if isSingleLineSpace(Unicode.Scalar(value) ?? " ") { return false }
                index += 2
            default: break
            }
            previous = byte
            index += 1
        }
        return true
    }

    /// Appends `value` as one line: every control character, line and paragraph separator
    /// becomes a space, runs of white space become one space, and the ends are trimmed.
    static func appendSingleLine(_ value: String, to output: inout [UInt8]) {
        var value = value
        let copied = value.withUTF8 { utf8 in
            guard isSingleLine(utf8) else { return false }
            output.append(contentsOf: utf8)
            return true
        }
        if copied { return }
        let start = output.count
        var pendingSpace = false
        for scalar in value.unicodeScalars {
            if isSingleLineSpace(scalar) {
                pendingSpace = output.count > start
            } else {
                if pendingSpace { output.append(0x20) }
                pendingSpace = false
                append(scalar, to: &output)
            }
        }
    }

    /// ``appendSingleLine(_:to:)`` applied in place to `bytes[start...]`: it never lengthens text.
    static func makeSingleLine(_ bytes: inout [UInt8], from start: Int) {
        let end = bytes.withUnsafeMutableBufferPointer { buffer in
            let text = UnsafeMutableBufferPointer(rebasing: buffer[start...])
            if isSingleLine(UnsafeBufferPointer(text)) { return buffer.count }
            return start + makeSingleLine(text)
        }
        bytes.removeSubrange(end...)
    }

    /// Returns the length of the cleaned text.
    private static func makeSingleLine(_ bytes: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let text = UnsafeBufferPointer(bytes)
        var read = 0
        var write = 0
        var pendingSpace = false
        while read < text.count {
            let (value, length) = scalar(text, at: read)
            // Valid UTF-8 decodes to valid scalars.
            if isSingleLineSpace(Unicode.Scalar(value) ?? " ") {
                pendingSpace = write > 0
            } else {
                if pendingSpace {
                    bytes[write] = 0x20
                    write += 1
                }
                pendingSpace = false
                for offset in 0..<length { bytes[write + offset] = text[read + offset] }
                write += length
            }
            read += length
        }
        return write
    }

    /// Whether ``appendSingleLine(_:to:)`` would append anything.
    static func hasSingleLineText(_ value: String) -> Bool {
        value.unicodeScalars.contains { !isSingleLineSpace($0) }
    }

    /// Appends `value` for a body: line breaks (CR LF, CR, LF, U+2028, U+2029, NEL) become LF;
    /// other control characters (C0, DEL, C1) become a space; tabs stay.
    static func appendMultiLine(_ value: String, to output: inout [UInt8]) {
        var previousWasCR = false
        for scalar in value.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0A where previousWasCR: continue
            case 0x0A, 0x0D, 0x85, 0x2028, 0x2029: output.append(0x0A)
            case 0x09: output.append(0x09)
            case 0x00...0x1F, 0x7F...0x9F: output.append(0x20)
            default: append(scalar, to: &output)
            }
        }
    }

    // MARK: HTML

    /// Appends `bytes` escaped for an HTML text node or a quoted attribute value.
    ///
    /// Every `&`, `<`, `>`, `"` and `'` byte is escaped, even when a combining mark follows it
    /// (`"` + U+0301 is one `Character` to Swift, but a browser still reads the quote).
    static func appendEscapingHTML(_ bytes: [UInt8], to output: inout [UInt8]) {
        var run = 0
        for index in bytes.indices {
            let entity: StaticString
            switch bytes[index] {
            case UInt8(ascii: "&"): entity = "&amp;"
            case UInt8(ascii: "<"): entity = "&lt;"
            case UInt8(ascii: ">"): entity = "&gt;"
            case UInt8(ascii: "\""): entity = "&quot;"
            case UInt8(ascii: "'"): entity = "&#39;"
            default: continue
            }
            output.append(contentsOf: bytes[run..<index])
            appendStatic(entity, to: &output)
            run = index + 1
        }
        output.append(contentsOf: bytes[run...])
    }

    static func appendStatic(_ text: StaticString, to output: inout [UInt8]) {
        text.withUTF8Buffer { output.append(contentsOf: $0) }
    }

    // MARK: Tidying

    /// Tidies a text body in place: trailing spaces off, at most one blank line in a row, no blank
    /// lines at the ends, one final LF.
    static func tidyText(_ bytes: inout [UInt8]) {
        // A CR would make CR LF one `Character` to the line splitting this mirrors: rare enough
        // (a `&#13;` in a template) to take the `String` way.
        if bytes.contains(0x0D) {
            bytes = Array(tidyTextSlowly(String(decoding: bytes, as: UTF8.self)).utf8)
            return
        }
        // The final LF: one byte more than the text when it had no line break at all.
        bytes.append(0x0A)
        let end = bytes.withUnsafeMutableBufferPointer { tidyText(in: $0, count: $0.count - 1) }
        bytes.removeSubrange(end...)
    }

    /// Tidies `bytes[..<count]` into `bytes`, final LF included; returns its length.
    private static func tidyText(in bytes: UnsafeMutableBufferPointer<UInt8>, count: Int) -> Int {
        let text = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(bytes)[..<count])
        var write = 0
        var wroteLine = false
        var pendingBlank = false
        var lineStart = 0
        while lineStart <= count {
            let lineEnd = text[lineStart...].firstIndex(of: 0x0A) ?? count
            var end = lineEnd
            while end > lineStart, text[end - 1] == 0x20 || text[end - 1] == 0x09,
                standsAlone(text, at: end - 1, from: lineStart)
            {
                end -= 1
            }
            if end == lineStart {
                pendingBlank = wroteLine
            } else {
                if wroteLine {
                    bytes[write] = 0x0A
                    write += 1
                    if pendingBlank {
                        bytes[write] = 0x0A
                        write += 1
                    }
                }
                move(bytes, lineStart..<end, to: write)
                write += end - lineStart
                wroteLine = true
                pendingBlank = false
            }
            lineStart = lineEnd + 1
        }
        bytes[write] = 0x0A
        return write + 1
    }

    /// Copies `bytes[range]` to `bytes[position...]`; the two may overlap (a `memmove`).
    @inline(__always)
    private static func move(_ bytes: UnsafeMutableBufferPointer<UInt8>, _ range: Range<Int>, to position: Int) {
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        UnsafeMutableRawPointer(base + position).copyMemory(from: base + range.lowerBound, byteCount: range.count)
    }

    /// The `String` form of ``tidyText(_:)``, for text holding a CR.
    static func tidyTextSlowly(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var trimmed = line
            while let last = trimmed.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
            if trimmed.isEmpty, lines.last?.isEmpty ?? true { continue }
            lines.append(trimmed)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Drops, in place, the empty and blank lines of `bytes[start...]` (the blank lines the
    /// template's layout leaves in the HTML), and the line break after the last line.
    static func tidyHTML(_ bytes: inout [UInt8], from start: Int) {
        if bytes[start...].contains(0x0D) {
            let tidy = tidyHTMLSlowly(String(decoding: bytes[start...], as: UTF8.self))
            bytes.replaceSubrange(start..., with: tidy.utf8)
            return
        }
        let end = bytes.withUnsafeMutableBufferPointer { buffer in
            start + tidyHTML(UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
        bytes.removeSubrange(end...)
    }

    /// Returns the length of the tidy HTML.
    private static func tidyHTML(_ bytes: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let text = UnsafeBufferPointer(bytes)
        var write = 0
        var lineStart = 0
        while lineStart < text.count {
            let lineEnd = text[lineStart...].firstIndex(of: 0x0A) ?? text.count
            if !isBlank(text, lineStart..<lineEnd) {
                if write > 0 {
                    bytes[write] = 0x0A
                    write += 1
                }
                move(bytes, lineStart..<lineEnd, to: write)
                write += lineEnd - lineStart
            }
            lineStart = lineEnd + 1
        }
        return write
    }

    /// Whether every `Character` of the line is white space (an empty line is blank).
    static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Bool {
        var index = line.lowerBound
        while index < line.upperBound {
            let (value, length) = scalar(bytes, at: index)
            index += length
            if isWhitespace(value) { continue }
            // Below U+0300 a scalar starts a `Character`, which is then not white space; above, it
            // may extend the white space before it: ask the standard library about the line.
            if value < 0x300 { return false }
            return String(decoding: bytes[line], as: UTF8.self).allSatisfy(\.isWhitespace)
        }
        return true
    }

    /// The `String` form of ``tidyHTML(_:from:)``, for HTML holding a CR.
    static func tidyHTMLSlowly(_ html: String) -> String {
        html.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.joined(separator: "\n")
    }
}
