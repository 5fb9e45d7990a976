import Foundation
import Testing

@testable import Dossiers

@Suite struct SchemaTextTests {
    enum Contract: String, CaseIterable, Sendable {
        case dossier, structures

        var embedded: String {
            switch self {
            case .dossier: DossierContract.schemaText
            case .structures: StructuresContract.schemaText
            }
        }
    }

    @Test(arguments: Contract.allCases)
    func embeddedSchemaIsTheContractFile(contract: Contract) throws {
        let file = try Fixtures.bytes("config/contracts/\(contract.rawValue).schema.json")
        #expect(Array(contract.embedded.utf8) == file)
    }
}
