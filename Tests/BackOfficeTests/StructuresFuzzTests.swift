import BackOffice
import Foundation
import Postgres
import SeededGenerator
import Testing

@Suite("Bad input, tried systematically: the structures file")
struct StructuresFuzzTests {
    /// Damaged copies of the example file: each applies whole (the damage fell somewhere harmless,
    /// in a label say) or is refused as bad input — never half applied, never another failure.
    @Test(arguments: [11, 12] as [UInt64])
    func aDamagedFileAppliesWholeOrNotAtAll(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: "\(Fixture.examples)/structures.json")))
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        let footprint = """
            SELECT (SELECT count(*) FROM structures) || '/' || (SELECT count(*) FROM services) || '/'
                || (SELECT count(*) FROM periods) || '/' || (SELECT count(*) FROM document_kinds)
            """
        var refused = 0
        for _ in 0..<40 {
            let damage = Damage.allCases.randomElement(using: &random) ?? .truncate
            let path = try Fixture.data(Data(damage.apply(to: original, using: &random)), name: "structures.json")
            let before = try connection.scalar(footprint, as: String.self)
            do {
                _ = try administration.applyStructures(file: path)
            } catch let error as BackOfficeError {
                #expect(error.code == .badInput, "\(damage): \(error.message)")
                #expect(error.message.contains(path))
                #expect(try connection.scalar(footprint, as: String.self) == before, "\(damage) left something behind")
                refused += 1
            }
        }
        #expect(refused >= 15) // some damage kinds do not apply to this file (no "confirmed" to retype)
    }
}
