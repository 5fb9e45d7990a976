import BackOffice
import Foundation

/// What `eticket --version` prints.
enum Version {
    /// This release; the Debian package takes its version from here (`packaging/build-deb` asks the
    /// built binary).
    static let release = "0.19.0"

    /// The highest migration number of the `sql/` this binary reads: the schema it expects.
    static var expectedSchema: Int? {
        guard let directory = ProjectFiles.directory("sql"),
            let migrations = try? Migration.load(directory: directory)
        else { return nil }
        return migrations.last?.version
    }

    /// `eticket 0.19.0 (schema 17)`: the schema part lets an operator compare with `db status`.
    static var text: String {
        let schema = expectedSchema.map { "schema \($0)" } ?? "schema unknown: sql/ not found"
        return "eticket \(release) (\(schema))"
    }
}
