import Foundation
import Testing

/// The boundary of issue 18: SQL lives in the stores (`*Store.swift`), the migrations and the
/// benchmark, nowhere else in BackOffice. A use case that needs a query asks a store for it.
@Suite("Stores own the SQL")
struct StoreBoundaryTests {
    static let sources = Fixture.root.appendingPathComponent("Sources/BackOffice")

    /// Files that hold SQL but are not stores; each entry names why. Shrink it, never grow it.
    static let notYetMoved: Set<String> = [
        // Not a query: the decision clock's SQL expression, which the stores interpolate.
        "DecisionClock.swift"
    ]

    @Test func sqlAppearsOnlyInStores() throws {
        var offences: [String] = []
        for file in try Self.swiftFiles(under: Self.sources) {
            let name = file.lastPathComponent
            if name.hasSuffix("Store.swift") || name.hasPrefix("Bench") || Self.notYetMoved.contains(name) { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for (line, literal) in SwiftStringLiterals.lines(of: text) where SQLKeywords.found(in: literal) {
                offences.append(
                    "\(file.path.dropFirst(Fixture.root.path.count + 1)):\(line): \(literal.trimmingCharacters(in: .whitespaces))"
                )
            }
        }
        #expect(
            offences.isEmpty, "SQL outside a store (move it into a *Store.swift method):\n\(offences.joined(separator: "\n"))")
    }

    /// The scanner itself: a test that cannot fail proves nothing.
    @Test func theScannerFindsSQLInLiteralsAndNotInCommentsOrCode() {
        let source = #"""
            // SELECT in a comment is prose
            /* DELETE FROM in a block comment */
            let a = "SELECT 1"
            let b = """
                UPDATE dossiers SET version = 2
                """
            let c = "no statement here, \"quoted\" SELECT too" + " INSERT INTO t VALUES (\(x))"
            let d = "select words in lowercase are prose"
            let e = "create it first (CREATE ROLE … LOGIN)" + "SELECT"
            let f = "(SELECT count(*) FROM t) AS n"
            """#
        let found = SwiftStringLiterals.lines(of: source).filter { SQLKeywords.found(in: $0.text) }.map(\.line)
        #expect(found == [3, 5, 7, 10])
    }

    static func swiftFiles(under directory: URL) throws -> [URL] {
        let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        return (walker?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }
}

/// A statement in a literal: a line that starts (after spaces and parentheses) with a statement's
/// leading word, upper case as the code base writes SQL, followed by more. Prose that names a
/// statement ("create it first (CREATE ROLE … LOGIN)") and a privilege's bare name ("SELECT")
/// are not statements.
enum SQLKeywords {
    nonisolated(unsafe) static let statement = try! Regex(
        #"^[\s(]*(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY|WITH|TRUNCATE|CREATE|ALTER|DROP|LOCK\s+TABLE|SET\s+(LOCAL|SESSION)|VACUUM|ANALYZE|GRANT|REVOKE|LISTEN|NOTIFY)\s+\S"#
    )

    static func found(in text: String) -> Bool { text.contains(statement) }
}

/// The text of every string literal of a Swift file, line by line, comments skipped.
enum SwiftStringLiterals {
    static func lines(of source: String) -> [(line: Int, text: String)] {
        let characters = Array(source)
        var found: [(line: Int, text: String)] = []
        var line = 1
        var index = 0
        var current = ""
        func flush() {
            if !current.isEmpty { found.append((line, current)) }
            current = ""
        }
        func at(_ text: String) -> Bool {
            let needle = Array(text)
            return index + needle.count <= characters.count && Array(characters[index..<index + needle.count]) == needle
        }
        enum Mode { case code, lineComment, blockComment, string, multilineString }
        var mode = Mode.code
        while index < characters.count {
            let character = characters[index]
            switch mode {
            case .code:
                if at("//") {
                    mode = .lineComment
                    index += 2
                    continue
                }
                if at("/*") {
                    mode = .blockComment
                    index += 2
                    continue
                }
                if at("\"\"\"") {
                    mode = .multilineString
                    index += 3
                    continue
                }
                if character == "\"" {
                    mode = .string
                    index += 1
                    continue
                }
            case .lineComment:
                if character == "\n" { mode = .code }
            case .blockComment:
                if at("*/") {
                    mode = .code
                    index += 2
                    continue
                }
            case .string, .multilineString:
                if character == "\\" && index + 1 < characters.count && characters[index + 1] != "\n" {
                    current.append(characters[index + 1])
                    index += 2
                    continue
                }
                if mode == .multilineString && at("\"\"\"") {
                    flush()
                    mode = .code
                    index += 3
                    continue
                }
                if mode == .string && character == "\"" {
                    flush()
                    mode = .code
                    index += 1
                    continue
                }
                if character == "\n" { flush() } else { current.append(character) }
            }
            if character == "\n" { line += 1 }
            index += 1
        }
        return found
    }
}
