/// The contracts' JSON Schemas as the import validates against them: `config/contracts/*.json`,
/// compiled into the binary by SwiftPM (`.embedInCode` in `Package.swift`, through the symbolic
/// links in `Contract/Schemas/`), so that the binary cannot drift from the contract it was built
/// for and needs no file at run time. Editing a contract file rebuilds this module.
extension DossierContract {
    /// `config/contracts/dossier.schema.json`, byte for byte.
    static let schemaText = String(decoding: PackageResources.dossier_schema_json, as: UTF8.self)
}

extension StructuresContract {
    /// `config/contracts/structures.schema.json`, byte for byte.
    static let schemaText = String(decoding: PackageResources.structures_schema_json, as: UTF8.self)
}
