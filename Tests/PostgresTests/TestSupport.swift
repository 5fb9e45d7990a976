import Postgres
import TestSupport
import Testing

/// A connection to a fresh, empty database of the test process's shared server.
func freshConnection() throws -> Connection {
    try Connection(try TestDatabases.shared().create())
}

/// Sends `value` as a parameter cast to `sqlType`, and reads it back.
func roundTrip<T: PostgresBindable & PostgresDecodable>(_ value: T, as sqlType: String, on connection: Connection)
    throws -> T
{
    let result = try connection.query("SELECT $1::\(sqlType) AS v", [value])
    let row = try #require(result.first)
    return try row.decode(T.self, "v")
}

/// Reads what the server itself prints for an SQL expression, as `T`.
func serverValue<T: PostgresDecodable>(_ expression: String, as type: T.Type = T.self, on connection: Connection)
    throws -> T
{
    let row = try #require(try connection.query("SELECT \(expression) AS v").first)
    return try row.decode(T.self, "v")
}
