import BackOffice
import Foundation
import Postgres
import Testing

@Suite("Applying the structures file")
struct StructureCatalogTests {
    /// The example structures file as JSON objects, to change before writing it back.
    static func exampleFile() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Fixture.examples)/structures.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Writes the example file after `change` edits the structure at `index`.
    static func changedFile(_ index: Int, _ change: (inout [String: Any]) -> Void) throws -> String {
        var file = try exampleFile()
        var structures = try #require(file["structures"] as? [[String: Any]])
        change(&structures[index])
        file["structures"] = structures
        return try Fixture.data(try JSONSerialization.data(withJSONObject: file), name: "structures.json")
    }

    /// `code=change` per structure, in file order.
    static func changes(_ report: StructureApplyReport) -> [String] {
        report.structures.map { "\($0.code)=\($0.change.rawValue)" }
    }

    @Test func theExampleFileIsCreatedThenUnchanged() throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = "\(Fixture.examples)/structures.json"

        #expect(Self.changes(try administration.applyStructures(file: file)) == ["villefranche=created", "saint-amour=created"])
        #expect(
            Self.changes(try administration.applyStructures(file: file)) == ["villefranche=unchanged", "saint-amour=unchanged"])

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM structures", as: Int.self) == 2)
        #expect(try connection.scalar("SELECT count(*) FROM services", as: Int.self) == 4)
        #expect(try connection.scalar("SELECT count(*) FROM document_kinds", as: Int.self) == 3)
        #expect(try connection.scalar("SELECT count(*) FROM periods", as: Int.self) == 2)
        #expect(
            try connection.scalar(
                "SELECT closed_dates::text FROM periods WHERE code = '2026-2027'", as: String.self) == "{2026-11-11,2026-12-25}")
        #expect(
            try connection.scalar(
                "SELECT weekdays::text FROM services WHERE code = 'cantine'", as: String.self) == "{1,2,4,5}")
        #expect(
            try connection.scalar(
                "SELECT review::text || ',' || rights_opening::text FROM structures WHERE code = 'saint-amour'",
                as: String.self) == "manual,scheduled")
    }

    @Test(arguments: ["name", "service label", "service weekdays", "document required", "period closed dates", "new service"])
    func aChangeUpdatesOnlyItsStructure(change: String) throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(0) { structure in
            switch change {
            case "name":
                structure["name"] = "Ville de Villefranche"
            case "service label":
                var services = structure["services"] as! [[String: Any]]
                services[0]["label"] = "Cantine scolaire"
                structure["services"] = services
            case "service weekdays":
                var services = structure["services"] as! [[String: Any]]
                services[0]["weekdays"] = [1, 2, 4]
                structure["services"] = services
            case "document required":
                var documents = structure["documents"] as! [[String: Any]]
                documents[1]["required"] = true
                structure["documents"] = documents
            case "period closed dates":
                var periods = structure["periods"] as! [[String: Any]]
                periods[0]["closed_dates"] = ["2026-11-11"]
                structure["periods"] = periods
            default:
                var services = structure["services"] as! [[String: Any]]
                services.append(["code": "garderie-soir", "label": "Accueil du soir", "weekdays": [1, 2, 4, 5]])
                structure["services"] = services
            }
        }
        #expect(
            Self.changes(try administration.applyStructures(file: file)) == ["villefranche=updated", "saint-amour=unchanged"])
        #expect(
            Self.changes(try administration.applyStructures(file: file)) == ["villefranche=unchanged", "saint-amour=unchanged"])
    }

    @Test func whatTheFileNoLongerNamesIsLeftAsItIs() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(0) { structure in
            structure["services"] = (structure["services"] as! [[String: Any]]).filter {
                $0["code"] as? String != "garderie-matin"
            }
            structure["documents"] = nil
        }
        #expect(
            Self.changes(try administration.applyStructures(file: file)) == ["villefranche=unchanged", "saint-amour=unchanged"])
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM services WHERE code = 'garderie-matin'", as: Int.self) == 1)
        #expect(try connection.scalar("SELECT count(*) FROM document_kinds", as: Int.self) == 3)
    }

    @Test func aChangedLabelIsStored() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(1) { structure in
            var services = structure["services"] as! [[String: Any]]
            services[0]["label"] = "Centre de loisirs des P'tits Loups"
            structure["services"] = services
        }
        #expect(
            Self.changes(try administration.applyStructures(file: file)) == ["villefranche=unchanged", "saint-amour=updated"])
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar("SELECT label FROM services WHERE code = 'centre-loisirs'", as: String.self)
                == "Centre de loisirs des P'tits Loups")
    }

    @Test(arguments: [
        ("unknown key", "$.structures[0].colour"),
        ("missing services", "$.structures[0].services"),
        ("bad weekday", "$.structures[0].services[0].weekdays[0]"),
        ("bad date", "$.structures[0].periods[0].starts_on"),
        ("bad email", "$.structures[0].sender.email"),
    ])
    func aBadFileIsRefusedWholeAndNamesThePath(problem: String, path: String) throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(0) { structure in
            structure["name"] = "Changed, but the file is bad"
            switch problem {
            case "unknown key":
                structure["colour"] = "blue"
            case "missing services":
                structure["services"] = nil
            case "bad weekday":
                var services = structure["services"] as! [[String: Any]]
                services[0]["weekdays"] = [8, 1]
                structure["services"] = services
            case "bad date":
                var periods = structure["periods"] as! [[String: Any]]
                periods[0]["starts_on"] = "2026-02-30"
                structure["periods"] = periods
            default:
                structure["sender"] = ["name": "X", "email": "not an email"]
            }
        }
        let error = try #require(throws: BackOfficeError.self) { try administration.applyStructures(file: file) }
        #expect(error.code == .badInput)
        #expect(error.message.contains(path))
        #expect(error.message.hasPrefix("\(file): not a valid structures file:"))

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(
            try connection.scalar("SELECT name FROM structures WHERE code = 'villefranche'", as: String.self)
                == "Mairie de Villefranche — Service Enfance")
    }

    @Test func aBadFileStoresNothingInAnEmptyDatabase() throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(1) { structure in structure["services"] = nil }
        let error = try #require(throws: BackOfficeError.self) { try administration.applyStructures(file: file) }
        #expect(error.code == .badInput)
        #expect(error.message.contains("$.structures[1].services"))
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM structures", as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM services", as: Int.self) == 0)
    }

    @Test func aPeriodWhoseClosedDateIsOutsideItIsBadInput() throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(0) { structure in
            var periods = structure["periods"] as! [[String: Any]]
            periods[0]["closed_dates"] = ["2027-08-15"]
            structure["periods"] = periods
        }
        let error = try #require(throws: BackOfficeError.self) { try administration.applyStructures(file: file) }
        #expect(error.code == .badInput)
        #expect(error.message.contains("$.structures[0].periods[0].closed_dates[0]"))
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM structures", as: Int.self) == 0)
    }

    /// What the schema cannot say but the database refuses is still the file's fault: bad input,
    /// with the path of the part concerned, and nothing stored.
    @Test(arguments: [
        ("a time zone PostgreSQL does not know", "$.structures[0].timezone"),
        ("the reserved document kind free", "$.structures[0].documents[1].kind"),
        ("another structure's registration code", "$.structures[1].registration_code"),
    ])
    func whatOnlyTheDatabaseChecksIsBadInputToo(problem: String, path: String) throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Self.changedFile(problem.hasPrefix("another") ? 1 : 0) { structure in
            switch problem {
            case "a time zone PostgreSQL does not know":
                structure["timezone"] = "Europe/Villefranche"
            case "the reserved document kind free":
                var documents = structure["documents"] as! [[String: Any]]
                documents[1]["kind"] = "free"
                structure["documents"] = documents
            default:
                structure["registration_code"] = "VLF-2026-ENF"
            }
        }
        let error = try #require(throws: BackOfficeError.self) { try administration.applyStructures(file: file) }
        #expect(error.code == .badInput)
        #expect(error.message.hasPrefix("\(file): not a valid structures file:"))
        #expect(error.message.contains("\(path): "), "\(error.message)")
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM structures", as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM document_kinds", as: Int.self) == 0)
    }

    @Test(arguments: ["", "{", "{\"structures\": []}", "[]"])
    func notAStructuresFile(text: String) throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let file = try Fixture.data(Data(text.utf8), name: "structures.json")
        let error = try #require(throws: BackOfficeError.self) { try administration.applyStructures(file: file) }
        #expect(error.code == .badInput)
        #expect(error.message.contains(file))
    }

    @Test func aMissingFileIsBadInput() throws {
        let administration = try Fixture.administration(try Fixture.migratedDatabase())
        defer { administration.close() }
        let error = try #require(throws: BackOfficeError.self) {
            try administration.applyStructures(file: "/nonexistent/structures.json")
        }
        #expect(error.code == .badInput)
        #expect(error.message == "/nonexistent/structures.json: no such file, or not readable")
    }
}
