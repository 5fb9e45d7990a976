import Postgres
import Testing

@Suite struct PostgresJSONTests {
    struct Child: Codable, Equatable {
        var firstName: String
        var allergies: [String]
    }

    @Test func jsonbRoundTripsThroughCodable() throws {
        let connection = try freshConnection()
        let child = Child(firstName: "Zoë \"Zo\"", allergies: ["arachides", "lait"])
        let json = try PostgresJSON(encoding: child)
        let back = try roundTrip(json, as: "jsonb", on: connection)
        #expect(try back.decode(Child.self) == child)
        #expect(try serverValue("$$\(json.text)$$::jsonb ->> 'firstName'", as: String.self, on: connection) == "Zoë \"Zo\"")
    }

    @Test func jsonKeepsTheTextAsWritten() throws {
        let connection = try freshConnection()
        let text = #"{"b": 1,  "a": [true, null]}"#
        #expect(try roundTrip(PostgresJSON(text), as: "json", on: connection).text == text)
    }
}
