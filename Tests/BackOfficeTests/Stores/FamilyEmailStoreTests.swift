import Dossiers
import Mail
import Postgres
import Testing

@testable import BackOffice

/// Every FamilyEmailStore method against the migrated schema, on the decided examples (the worker
/// ran with the outbox, so every told decision and every opening has its email).
@Suite("FamilyEmailStore")
struct FamilyEmailStoreTests {
    @Test func everyToldDecisionAndEveryOpeningHasOneRowWithItsParticulars() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let told: [Int64] = try connection.query("SELECT id FROM decisions WHERE outcome <> 'awaiting_review' ORDER BY id")
            .map { try $0.decode("id") }
        let all: [Int64] = try connection.query("SELECT id FROM decisions ORDER BY id").map { try $0.decode("id") }
        #expect(told.count < all.count, "the examples have a decision awaiting review, which the family is not told of")
        let mailed: [Int64] = try connection.query(
            "SELECT decision_id FROM email_outbox WHERE decision_id IS NOT NULL ORDER BY decision_id"
        ).map { try $0.decode("decision_id") }
        #expect(mailed == told)
        let openings: Int = try #require(
            try connection.query("SELECT count(DISTINCT (dossier_id, period_id))::int AS n FROM reservation_rights").first?
                .decode("n"))
        #expect(
            try connection.query("SELECT count(*)::int AS n FROM email_outbox WHERE kind = 'planning-open'").first?
                .decode(Int.self, "n") == openings)

        // What each row keeps: the family's data, never a rendered message.
        for row in try connection.query(
            """
            SELECT e.particulars::text AS particulars, e.message IS NULL AS unrendered, d.external_id, d.locale,
                   (SELECT count(*) FROM children c WHERE c.dossier_id = d.id)::int AS children
            FROM email_outbox e JOIN dossiers d ON d.id = e.dossier_id WHERE e.kind = 'dossier-processed'
            """)
        {
            #expect(try row.decode(Bool.self, "unrendered"))
            let particulars = try EmailParticulars(json: try row.decode("particulars"), email: 0)
            #expect(particulars.dossier == (try row.decode(String.self, "external_id")))
            #expect(particulars.language == (try row.decode(String.self, "locale")))
            #expect(particulars.children.count == (try row.decode(Int.self, "children")))
        }
    }

    @Test func anOpeningsParticularsHoldEachChildsRightsByService() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        var servicesDrawn = 0
        for row in try connection.query(
            """
            SELECT e.particulars::text AS particulars, p.starts_on::text AS starts_on, p.ends_on::text AS ends_on
            FROM email_outbox e JOIN periods p ON p.id = e.period_id WHERE e.kind = 'planning-open'
            """)
        {
            let particulars = try EmailParticulars(json: try row.decode("particulars"), email: 0)
            let shownFrom = try #require(particulars.shownFrom)
            let startsOn: String = try row.decode("starts_on")
            let endsOn: String = try row.decode("ends_on")
            #expect(startsOn <= shownFrom && shownFrom <= endsOn)
            for child in particulars.children {
                let services = try #require(child.services)
                #expect(!services.isEmpty, "only children with rights in the period are drawn")
                #expect(services.map(\.label) == services.map(\.label).sorted())
                servicesDrawn += services.count
            }
        }
        let rights: Int = try #require(
            try connection.query("SELECT count(*)::int AS n FROM reservation_rights").first?.decode("n"))
        #expect(servicesDrawn == rights, "one service drawn per right")
    }

    @Test func aRetriedInsertMakesNoSecondCopyAndStoresTheTemplateSetOnce() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let decisionIDs: [Int64] = try connection.query("SELECT decision_id FROM email_outbox WHERE decision_id IS NOT NULL")
            .map { try $0.decode("decision_id") }
        let openings: [DecisionStore.Opening] = try connection.query(
            "SELECT dossier_id, period_id FROM email_outbox WHERE kind = 'planning-open'"
        ).map { .init(dossierID: try $0.decode("dossier_id"), periodID: try $0.decode("period_id"), children: 0) }
        let count =
            "SELECT (SELECT count(*) FROM email_outbox)::int AS emails, (SELECT count(*) FROM email_template_sets)::int AS sets"
        let before = try #require(try connection.query(count).first)
        #expect(try before.decode(Int.self, "sets") == 1)

        // The same batch again, as a retried batch would write it: nothing new.
        let templates = StoredTemplateSet(try EmailTemplates.library(nil))
        let written = try connection.transaction {
            try FamilyEmailStore(connection: $0).insert(decisions: decisionIDs, openings: openings, templates: templates)
        }
        #expect(written == .init())
        let after = try #require(try connection.query(count).first)
        #expect(try after.decode(Int.self, "emails") == (try before.decode(Int.self, "emails")))
        #expect(try after.decode(Int.self, "sets") == 1)
        #expect(try FamilyEmailStore(connection: connection).insert(decisions: [], openings: [], templates: templates) == .init())
    }

    @Test func aPreviewFindsItsDossierDecisionAndPeriod() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = FamilyEmailStore(connection: connection)
        let dossier = try #require(try store.dossierID(externalID: "VLF-0001"))
        #expect(try store.dossierID(externalID: "NO-SUCH-DOSSIER") == nil)
        let decision = try #require(try store.lastToldDecision(ofDossier: dossier))
        #expect(
            try connection.query("SELECT dossier_id FROM decisions WHERE id = $1", [decision]).first?.decode(
                Int64.self, "dossier_id")
                == dossier)
        let period = try #require(try store.firstPeriodWithRights(ofDossier: dossier))
        #expect(
            try connection.query(
                "SELECT min(period_id) AS p FROM reservation_rights WHERE dossier_id = $1", [dossier]
            ).first?.decode(Int64.self, "p") == period)
        #expect(try store.lastToldDecision(ofDossier: -1) == nil)
        #expect(try store.firstPeriodWithRights(ofDossier: -1) == nil)
    }
}
