import Dossiers
import Mail
import Postgres
import Testing

@testable import BackOffice

/// Every FamilyEmailStore method against the migrated schema, on the decided examples (the worker
/// ran with the outbox, so every told decision and every opening has its email).
@Suite("FamilyEmailStore")
struct FamilyEmailStoreTests {
    @Test func decisionEmailsAreTheToldDecisionsWithTheirFamilyAndStructure() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let all: [Int64] = try connection.query("SELECT id FROM decisions ORDER BY id").map { try $0.decode("id") }
        let told: [Int64] = try connection.query("SELECT id FROM decisions WHERE outcome <> 'awaiting_review' ORDER BY id")
            .map { try $0.decode("id") }
        #expect(told.count < all.count, "the examples have a decision awaiting review, which the family is not told of")

        let emails = try FamilyEmailStore(connection: connection).decisionEmails(all)
        #expect(emails.map(\.decisionID).sorted() == told)
        for email in emails {
            let expected = try #require(
                try connection.query(
                    """
                    SELECT d.external_id, a.email, s.code, x.outcome::text AS outcome,
                           (SELECT count(*) FROM children c WHERE c.dossier_id = d.id)::int AS children
                    FROM decisions x JOIN dossiers d ON d.id = x.dossier_id
                    JOIN accounts a ON a.id = d.account_id JOIN structures s ON s.id = d.structure_id
                    WHERE x.id = $1
                    """, [email.decisionID]
                ).first)
            #expect(email.context.dossierExternalID == (try expected.decode(String.self, "external_id")))
            #expect(email.context.account.email == (try expected.decode(String.self, "email")))
            #expect(email.context.structure.code == (try expected.decode(String.self, "code")))
            #expect(email.outcome == (try expected.decode(Outcome.self, "outcome")))
            #expect(email.context.outcome == email.outcome)
            #expect(email.context.children.count == (try expected.decode(Int.self, "children")))
            #expect(email.outcome != .returned || !email.findings.isEmpty || email.reason != nil)
        }
        #expect(try FamilyEmailStore(connection: connection).decisionEmails([]).isEmpty)
    }

    @Test func openingEmailsAndTheChildrensRightsTheyDraw() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let openings: [DecisionStore.Opening] = try connection.query(
            "SELECT DISTINCT dossier_id, period_id FROM reservation_rights ORDER BY dossier_id, period_id"
        ).map { .init(dossierID: try $0.decode("dossier_id"), periodID: try $0.decode("period_id"), children: 0) }
        #expect(!openings.isEmpty)
        let store = FamilyEmailStore(connection: connection)

        let emails = try store.openingEmails(openings)
        #expect(
            emails.map { FamilyEmailStore.PeriodKey(dossierID: $0.dossierID, periodID: $0.periodID) }.sorted(by: Self.order)
                == openings.map { .init(dossierID: $0.dossierID, periodID: $0.periodID) })
        for email in emails {
            #expect(email.period.startsOn <= email.shownFrom && email.shownFrom <= email.period.endsOn)
            #expect(!email.period.label.isEmpty)
        }

        let rights = try store.childrenRights(openings)
        let rows: Int = try #require(try connection.query("SELECT count(*)::int AS n FROM reservation_rights").first?.decode("n"))
        #expect(rights.values.flatMap { $0.flatMap(\.services) }.count == rows, "one service drawn per right")
        #expect(Set(rights.keys) == Set(emails.map { .init(dossierID: $0.dossierID, periodID: $0.periodID) }))
        #expect(try store.openingEmails([]).isEmpty)
    }

    @Test func aRetriedInsertMakesNoSecondCopyAndTheCountsSeeWhatIsWritten() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = FamilyEmailStore(connection: connection)
        let decisionIDs: [Int64] = try connection.query("SELECT decision_id FROM email_outbox WHERE decision_id IS NOT NULL")
            .map { try $0.decode("decision_id") }
        let openings: [DecisionStore.Opening] = try connection.query(
            "SELECT dossier_id, period_id FROM email_outbox WHERE kind = 'planning-open'"
        ).map { .init(dossierID: try $0.decode("dossier_id"), periodID: try $0.decode("period_id"), children: 0) }
        #expect(try store.decisionEmailCount(decisionIDs) == decisionIDs.count)
        #expect(try store.planningOpenCount(openings) == openings.count)
        #expect(try store.decisionEmailCount([]) == 0)

        // The outbox's rows again, as a retried batch would write them: nothing new.
        let again: [FamilyEmailStore.PendingEmail] = try connection.query(
            """
            SELECT dossier_id, structure_id, kind::text AS kind, decision_id, period_id, message_id, sender,
                   recipient, subject, message FROM email_outbox
            """
        ).map { row in
            .init(
                dossierID: try row.decode("dossier_id"), structureID: try row.decode("structure_id"),
                kind: try row.decode("kind"), decisionID: try row.decodeIfPresent("decision_id"),
                periodID: try row.decodeIfPresent("period_id"),
                email: RenderedEmail(
                    messageID: try row.decode("message_id"), from: try row.decode("sender"), to: try row.decode("recipient"),
                    subject: try row.decode("subject"), text: "", html: "", headers: [],
                    bytes: try row.decode(PostgresBytes.self, "message").bytes))
        }
        let before: Int = try #require(try connection.query("SELECT count(*)::int AS n FROM email_outbox").first?.decode("n"))
        try connection.transaction { try FamilyEmailStore(connection: $0).insert(again) }
        #expect(try connection.query("SELECT count(*)::int AS n FROM email_outbox").first?.decode(Int.self, "n") == before)
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

    private static func order(_ a: FamilyEmailStore.PeriodKey, _ b: FamilyEmailStore.PeriodKey) -> Bool {
        (a.dossierID, a.periodID) < (b.dossierID, b.periodID)
    }
}
