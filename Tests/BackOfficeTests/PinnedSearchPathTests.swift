import BackOffice
import Foundation
import Postgres
import Testing

/// Issue 16, classes 4 and 6: a role that shadows the catalog with temporary tables must not get
/// around the guards that run with its rights (migration 017, the last: it pins every function before it).
@Suite("Functions resolve names in the real catalog")
struct PinnedSearchPathTests {
    /// A temporary `pg_class` that says the caller owns every guarded table: the guards must read
    /// the real catalog and refuse the worker's move all the same.
    @Test func aTemporaryCatalogDoesNotMakeAWorkerTheOwner() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try AuditTruthTests.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        try worker.execute(
            script: """
                CREATE TEMP TABLE pg_class AS
                SELECT c.oid, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AS relowner
                FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
                """)
        try worker.execute(script: "BEGIN")
        try worker.query("SELECT set_config('eticket.actor', 'admin:Marie Curie', true)")
        let error = try worker.refusal("UPDATE dossiers SET state = 'validated' WHERE external_id = 'PTL-0001'")
        try worker.execute(script: "ROLLBACK")
        #expect(error.sqlState == "ETK05" || error.sqlState == "ETK06", "\(error.message)")
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(
            try owner.scalar("SELECT state::text FROM dossiers WHERE external_id = 'PTL-0001'", as: String.self)
                == "awaiting_review")
    }

    /// Every function of the schema, those of later migrations included, pins its search_path.
    @Test func everyFunctionOfTheSchemaPinsItsSearchPath() throws {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Connection(conninfo)
        defer { owner.close() }
        let unpinned = try owner.query(
            """
            SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
                AND NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY(p.proconfig), false)
            ORDER BY 1
            """
        ).map { try $0.decode(String.self, "name") }
        #expect(unpinned.isEmpty, "functions without a pinned search_path: \(unpinned)")
    }
}
