import Foundation

extension JSONSchema {
    /// A compiled `pattern`.
    ///
    /// The contracts' patterns are anchored runs of character classes (`^[0-9a-f]{64}$`); those are
    /// matched by ``SimplePattern``, which is many times faster than `NSRegularExpression` and
    /// has ECMA-262's `$` (end of input only, as JSON Schema specifies; ICU's `$` also matches before
    /// a final line feed, which would let `"VLF-0001\n"` through). Anything richer falls back to
    /// `NSRegularExpression`, immutable once built and documented as safe to share between threads.
    struct Pattern: @unchecked Sendable {
        let source: String
        private let simple: SimplePattern?
        private let expression: NSRegularExpression?

        init?(_ source: String) {
            self.source = source
            if let simple = SimplePattern(source) {
                self.simple = simple
                self.expression = nil
            } else if let expression = try? NSRegularExpression(pattern: source) {
                self.simple = nil
                self.expression = expression
            } else {
                return nil
            }
        }

        func matches(_ string: String) -> Bool {
            if let simple { return simple.matches(string) }
            guard let expression else { return false }
            let range = NSRange(string.startIndex..<string.endIndex, in: string)
            return expression.firstMatch(in: string, options: [], range: range) != nil
        }
    }
}

/// A regular expression made only of optional anchors and quantified atoms (a literal character, `.`,
/// or a bracketed class of characters and ranges), matched by backtracking over Unicode scalars.
struct SimplePattern: Sendable {
    struct Atom: Sendable {
        /// Inclusive scalar ranges the atom accepts; `nil` is `.` (anything but a line terminator).
        var ranges: [ClosedRange<UInt32>]?
        var negated = false
        var min = 1
        var max = 1

        func accepts(_ scalar: Unicode.Scalar) -> Bool {
            guard let ranges else { return scalar != "\n" && scalar != "\r" && scalar != "\u{2028}" && scalar != "\u{2029}" }
            return ranges.contains { $0.contains(scalar.value) } != negated
        }
    }

    let anchoredStart: Bool
    let anchoredEnd: Bool
    let atoms: [Atom]

    /// Compiles `source`, or returns `nil` when it uses anything beyond this subset.
    init?(_ source: String) {
        var scalars = Array(source.unicodeScalars)[...]
        anchoredStart = scalars.first == "^"
        if anchoredStart { scalars.removeFirst() }
        anchoredEnd = scalars.last == "$" && (scalars.count < 2 || scalars[scalars.endIndex - 2] != "\\")
        if anchoredEnd { scalars.removeLast() }
        var atoms: [Atom] = []
        while let scalar = scalars.popFirst() {
            var atom: Atom
            switch scalar {
            case "[":
                guard let parsed = Self.parseClass(&scalars) else { return nil }
                atom = parsed
            case ".":
                atom = Atom(ranges: nil)
            case "\\":
                // Only escaped punctuation: \d, \w, \b… have meanings this subset does not model.
                guard let escaped = scalars.popFirst(), escaped.isASCII, !escaped.properties.isAlphabetic,
                    !("0"..."9").contains(escaped)
                else { return nil }
                atom = Atom(ranges: [escaped.value...escaped.value])
            case "(", ")", "|", "*", "+", "?", "{", "}", "^", "$", "]":
                return nil
            default:
                atom = Atom(ranges: [scalar.value...scalar.value])
            }
            guard Self.parseQuantifier(&scalars, into: &atom) else { return nil }
            atoms.append(atom)
        }
        self.atoms = atoms
    }

    private static func parseClass(_ scalars: inout ArraySlice<Unicode.Scalar>) -> Atom? {
        var atom = Atom(ranges: [])
        var ranges: [ClosedRange<UInt32>] = []
        if scalars.first == "^" {
            atom.negated = true
            scalars.removeFirst()
        }
        var first = true
        while let scalar = scalars.popFirst() {
            if scalar == "]" && !first {
                atom.ranges = ranges
                return atom
            }
            first = false
            var low = scalar
            if low == "\\" {
                guard let escaped = scalars.popFirst(), escaped.isASCII, !escaped.properties.isAlphabetic,
                    !("0"..."9").contains(escaped)
                else { return nil }
                low = escaped
            } else if low == "[" {
                return nil
            }
            if scalars.first == "-", scalars.count >= 2, scalars[scalars.startIndex + 1] != "]" {
                scalars.removeFirst()
                guard let high = scalars.popFirst(), high != "\\", high != "[", low.value <= high.value else { return nil }
                ranges.append(low.value...high.value)
            } else {
                ranges.append(low.value...low.value)
            }
        }
        return nil
    }

    private static func parseQuantifier(_ scalars: inout ArraySlice<Unicode.Scalar>, into atom: inout Atom) -> Bool {
        switch scalars.first {
        case "?":
            (atom.min, atom.max) = (0, 1)
        case "*":
            (atom.min, atom.max) = (0, .max)
        case "+":
            (atom.min, atom.max) = (1, .max)
        case "{":
            guard let close = scalars.firstIndex(of: "}") else { return false }
            let body = String(String.UnicodeScalarView(scalars[(scalars.startIndex + 1)..<close]))
            let bounds = body.split(separator: ",", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let min = Int(bounds[0]) else { return false }
            let max = bounds.count == 1 ? min : (bounds[1].isEmpty ? Int.max : Int(bounds[1]))
            guard let max, min <= max else { return false }
            (atom.min, atom.max) = (min, max)
            scalars = scalars[close...]
        default:
            return true
        }
        scalars.removeFirst()
        // Lazy and possessive forms are outside the subset.
        return scalars.first != "?" && scalars.first != "+"
    }

    func matches(_ string: String) -> Bool {
        let scalars = Array(string.unicodeScalars)
        if anchoredStart { return match(scalars, from: 0, atom: 0) }
        return (0...scalars.count).contains { match(scalars, from: $0, atom: 0) }
    }

    private func match(_ scalars: [Unicode.Scalar], from start: Int, atom index: Int) -> Bool {
        guard index < atoms.count else { return !anchoredEnd || start == scalars.count }
        let atom = atoms[index]
        var count = 0
        while count < atom.max, start + count < scalars.count, atom.accepts(scalars[start + count]) {
            count += 1
        }
        // Greedy, giving back one at a time: the contracts' patterns never need to.
        while count >= atom.min {
            if match(scalars, from: start + count, atom: index + 1) { return true }
            count -= 1
        }
        return false
    }
}
