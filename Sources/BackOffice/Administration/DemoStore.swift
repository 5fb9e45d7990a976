import Postgres

/// The SQL of the demo's claim on a database: whether it is empty, marked as the demo's, and
/// holds nothing but the examples. Every method runs on the caller's connection, inside the
/// caller's transaction.
struct DemoStore {
    let connection: Connection

    /// Serializes demos claiming the same database until the transaction ends.
    func lockClaim() throws {
        try connection.query("SELECT pg_advisory_xact_lock(hashtext('eticket demo'))")
    }

    /// Tables, views and foreign tables outside the system schemas.
    func userTableCount() throws -> Int64 {
        try connection.query(
            """
            SELECT count(*) AS tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
            """
        ).first?.decode(Int64.self, "tables") ?? 0
    }

    /// Marks an empty database as the demo's.
    func mark() throws {
        try connection.execute(
            script:
                "CREATE TABLE eticket_demo (claimed_at timestamptz NOT NULL DEFAULT now()); INSERT INTO eticket_demo DEFAULT VALUES"
        )
    }

    func isMarked() throws -> Bool {
        try connection.query("SELECT to_regclass('public.eticket_demo') IS NOT NULL AS marked").first?.decode(Bool.self, "marked")
            == true
    }

    /// A table the demo inspects, and the values of `column` it accepts to find there.
    enum ExampleTable: String, CaseIterable {
        case structures, dossiers

        var keyColumn: String {
            switch self {
            case .structures: "code"
            case .dossiers: "external_id"
            }
        }
    }

    /// Rows of `table` whose key is not one of `allowed`; `nil` when the table does not exist.
    func rowsOtherThan(_ allowed: [String], in table: ExampleTable) throws -> Int64? {
        guard
            try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", ["public.\(table.rawValue)"]).first?
                .decode(Bool.self, "present") == true
        else { return nil }
        return try connection.query(
            "SELECT count(*) AS others FROM \(table.rawValue) WHERE \(table.keyColumn) <> ALL($1::text[])", [allowed]
        ).first?.decode(Int64.self, "others") ?? 0
    }
}
