import BackOffice
import Dossiers
import Foundation
import Mail
import Postgres
import Testing

/// The examples after one worker pass: VLF-0001 planning_open, VLF-0002 and VLF-0003 returned,
/// PTL-0001 awaiting_review (saint-amour reviews by hand and opens rights on 2027-01-15).
@Suite("Administrators' decisions")
struct DecisionsTests {
    let outbox: EmailOutbox

    init() throws {
        outbox = try EmailOutbox(directory: Fixture.templates)
    }

    private func state(_ id: String, _ connection: Connection) throws -> String? {
        try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = $1", [id], as: String.self)
    }

    /// Rows in every table a decision writes, to prove a refusal wrote nothing.
    private func footprint(_ connection: Connection) throws -> [Int] {
        try ["decisions", "dossier_events", "email_outbox", "reservation_rights", "dossier_queue"].map {
            try connection.scalar("SELECT count(*) FROM \($0)", as: Int.self) ?? -1
        }
    }

    @Test func approvingASaintAmourDossierValidatesItAndSchedulesItsRights() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.decide("PTL-0001", .approve, reason: "pièces vérifiées", by: "alice", outbox: outbox)
        #expect(report.decided.map(\.externalID) == ["PTL-0001"])
        #expect(report.decided.first?.from == .awaitingReview)
        #expect(report.decided.first?.to == .validated)
        #expect(report.planningOpened == 0)
        #expect(report.openingsScheduled == 1)
        #expect(report.emails == 1)

        let connection = try Fixture.connection(conninfo)
        #expect(try state("PTL-0001", connection) == "validated")
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM reservation_rights r JOIN dossiers d ON d.id = r.dossier_id WHERE d.external_id = 'PTL-0001'",
                as: Int.self) == 0)
        let runAt = try connection.scalar(
            """
            SELECT q.run_at = p.planning_opens_at FROM dossier_queue q JOIN periods p ON p.id = q.period_id
            JOIN dossiers d ON d.id = q.dossier_id WHERE d.external_id = 'PTL-0001' AND q.job = 'open_rights'
            """, as: Bool.self)
        #expect(runAt == true)
        let decision = try #require(
            try connection.query(
                """
                SELECT x.id, x.decided_by, x.reason, x.outcome::text AS outcome FROM decisions x
                JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = 'PTL-0001' ORDER BY x.id DESC LIMIT 1
                """
            ).first)
        #expect(try decision.decode(String.self, "decided_by") == "admin:alice")
        #expect(try decision.decode(String.self, "outcome") == "validated")
        #expect(try decision.decode(String.self, "reason") == "pièces vérifiées")
        let event = try #require(
            try connection.query(
                """
                SELECT e.actor, e.reason, e.decision_id, e.from_state::text AS from_state FROM dossier_events e
                JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'PTL-0001' ORDER BY e.id DESC LIMIT 1
                """
            ).first)
        #expect(try event.decode(String.self, "actor") == "admin:alice")
        #expect(try event.decode(String.self, "reason") == "pièces vérifiées")
        #expect(try event.decode(String.self, "from_state") == "awaiting_review")
        #expect(try event.decode(Int64.self, "decision_id") == (try decision.decode(Int64.self, "id")))
        let emails = try connection.scalar(
            "SELECT count(*) FROM email_outbox WHERE decision_id = $1 AND kind = 'dossier-processed'",
            [try decision.decode(Int64.self, "id")], as: Int.self)
        #expect(emails == 1)
    }

    @Test(arguments: [Verdict.return, .reject])
    func returningOrRejectingADossierAwaitingReviewTellsTheFamilyWhy(_ verdict: Verdict) throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let reason = "attestation illisible"
        let report = try administration.decide(
            "PTL-0001", verdict, reason: reason, by: "bob", structure: "saint-amour", outbox: outbox)
        #expect(report.decided.first?.to == verdict.outcome.state)
        #expect(report.emails == 1)
        let connection = try Fixture.connection(conninfo)
        #expect(try state("PTL-0001", connection) == verdict.outcome.state.rawValue)
        let event = try #require(
            try connection.query(
                """
                SELECT e.actor, e.reason, e.to_state::text AS to_state FROM dossier_events e
                JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'PTL-0001' ORDER BY e.id DESC LIMIT 1
                """
            ).first)
        #expect(try event.decode(String.self, "actor") == "admin:bob")
        #expect(try event.decode(String.self, "reason") == reason)
        let message = try #require(
            try RenderedOutbox.message(
                """
                SELECT o.id FROM email_outbox o JOIN decisions x ON x.id = o.decision_id
                JOIN dossiers d ON d.id = o.dossier_id
                WHERE d.external_id = 'PTL-0001' AND x.decided_by = 'admin:bob'
                """, on: connection))
        #expect(try ComposedMessageParts(reading: message).text.contains(reason))
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue WHERE job = 'open_rights'", as: Int.self) == 0)
    }

    @Test func aReturnCarriesTheRulesCurrentFindingsAndTheReason() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.decide("PTL-0001", .return, reason: "photo floue", by: "bob", outbox: outbox)
        let connection = try Fixture.connection(conninfo)
        let row = try #require(
            try connection.query(
                """
                SELECT x.reason, x.findings::text AS findings FROM decisions x JOIN dossiers d ON d.id = x.dossier_id
                WHERE d.external_id = 'PTL-0001' AND x.decided_by = 'admin:bob'
                """
            ).first)
        #expect(try row.decode(String.self, "reason") == "photo floue")
        // PTL-0001 is complete: the rules find nothing, so the reason alone explains the return.
        let findings = try JSONDecoder().decode([Finding].self, from: Data(try row.decode(String.self, "findings").utf8))
        #expect(findings.isEmpty)
    }

    @Test(arguments: [
        ("VLF-0002", Verdict.approve, "VLF-0002 is returned: approve needs a dossier awaiting review"),
        ("VLF-0002", Verdict.reject, "VLF-0002 is returned: reject needs a dossier awaiting review"),
        ("VLF-0001", Verdict.approve, "VLF-0001 is planning_open: approve needs a dossier awaiting review"),
        (
            "VLF-0003", Verdict.return,
            "VLF-0003 is returned: return needs a dossier awaiting review, validated or with its planning open"
        ),
    ])
    func aDecisionTheStateDoesNotAllowIsRefusedAndWritesNothing(_ id: String, _ verdict: Verdict, _ message: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        let before = try footprint(connection)
        let stateBefore = try state(id, connection)
        let error = try #require(throws: BackOfficeError.self) {
            try administration.decide(id, verdict, reason: "pourquoi pas", by: "carol", outbox: outbox)
        }
        #expect(error.code == .refused)
        #expect(error.message == message)
        #expect(try footprint(connection) == before)
        #expect(try state(id, connection) == stateBefore)
    }

    @Test func aValidatedDossierCannotBeApprovedOrRejectedAgain() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.decide("PTL-0001", .approve, reason: nil, by: "alice", outbox: outbox)
        for verdict in [Verdict.approve, .reject] {
            let error = try #require(throws: BackOfficeError.self) {
                try administration.decide("PTL-0001", verdict, reason: "encore", by: "alice", outbox: outbox)
            }
            #expect(error.message == "PTL-0001 is validated: \(verdict.rawValue) needs a dossier awaiting review")
        }
    }

    @Test func returningAValidatedDossierRemovesItsRightsReservationsAndScheduledOpenings() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.decide("PTL-0001", .approve, reason: nil, by: "alice", outbox: outbox)
        let connection = try Fixture.connection(conninfo)
        // Rights (and a reservation on Wednesday 10 February 2027) while still validated.
        try connection.query(
            """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT d.id, p.id, c.id, d.structure_id, ARRAY(SELECT v.id FROM services v WHERE v.structure_id = d.structure_id),
                   'admin:test'
            FROM dossiers d JOIN children c ON c.dossier_id = d.id
            JOIN periods p ON p.structure_id = d.structure_id WHERE d.external_id = 'PTL-0001'
            """)
        try connection.query(
            """
            INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
            SELECT child_id, service_id, period_id, '2027-02-10', 'admin:test' FROM reservation_rights r
            JOIN dossiers d ON d.id = r.dossier_id WHERE d.external_id = 'PTL-0001'
            """)
        let report = try administration.decide("PTL-0001", .return, reason: "justificatif périmé", by: "dan", outbox: outbox)
        #expect(report.decided.first?.from == .validated)
        #expect(report.decided.first?.to == .returned)
        #expect(report.rightsRemoved == 1)
        #expect(report.reservationsRemoved == 1)
        #expect(report.openingsCancelled == 1)
        #expect(try state("PTL-0001", connection) == "returned")
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM reservation_rights r JOIN dossiers d ON d.id = r.dossier_id WHERE d.external_id = 'PTL-0001'",
                as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM reservations WHERE day = '2027-02-10'", as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue WHERE job = 'open_rights'", as: Int.self) == 0)
        // Two admin decisions, two dossier-processed emails: one each.
        #expect(
            try connection.scalar(
                """
                SELECT count(*) FROM email_outbox o JOIN decisions x ON x.id = o.decision_id
                WHERE x.decided_by LIKE 'admin:%'
                """, as: Int.self) == 2)
    }

    @Test func aDossierWithItsPlanningOpenCanBeReturnedAndLosesItsRights() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        // Zoé's canteen on Thursday 3 December 2026.
        try connection.query(
            """
            INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
            SELECT r.child_id, r.service_id, r.period_id, '2026-12-03', 'admin:test' FROM reservation_rights r
            JOIN children c ON c.id = r.child_id JOIN services v ON v.id = r.service_id
            WHERE c.first_name = 'Zoé' AND v.code = 'cantine'
            """)
        let report = try administration.decide(
            "VLF-0001", .return, reason: "attestation d'assurance illisible", by: "dan", outbox: outbox)
        #expect(report.decided.first?.from == .planningOpen)
        #expect(report.rightsRemoved == 5)
        #expect(report.reservationsRemoved == 1)
        #expect(try state("VLF-0001", connection) == "returned")
        #expect(try connection.scalar("SELECT count(*) FROM reservations", as: Int.self) == 0)
    }

    @Test func returnAndRejectNeedAReasonAndTheStructureMustMatch() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        for verdict in [Verdict.return, .reject] {
            let error = try #require(throws: BackOfficeError.self) {
                try administration.decide("PTL-0001", verdict, reason: "  ", by: "alice", outbox: outbox)
            }
            #expect(error.code == .badInput)
        }
        let wrong = try #require(throws: BackOfficeError.self) {
            try administration.decide("PTL-0001", .approve, reason: nil, by: "alice", structure: "villefranche", outbox: outbox)
        }
        #expect(wrong.message == "PTL-0001 belongs to saint-amour, not villefranche")
        let missing = try #require(throws: BackOfficeError.self) {
            try administration.decide("NOPE-1", .approve, reason: nil, by: "alice", outbox: outbox)
        }
        #expect(missing.code == .notFound)
        let connection = try Fixture.connection(conninfo)
        #expect(try state("PTL-0001", connection) == "awaiting_review")
    }

    @Test func allAwaitingDecidesEveryDossierOfTheStructureAwaitingReviewAtOnce() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        // A second saint-amour dossier awaiting review.
        let line = try #require(try Fixture.exampleLines()["PTL-0001"]).replacingOccurrences(of: "PTL-0001", with: "PTL-0002")
        _ = try administration.importDossiers(file: try Fixture.file([line]))
        _ = try WorkerRunner(conninfo: conninfo, configuration: WorkerConfiguration(), outbox: outbox, logger: Fixture.logger)
            .drain()
        #expect(try state("PTL-0002", connection) == "awaiting_review")

        let report = try administration.decideAllAwaiting(
            structure: "saint-amour", .approve, reason: nil, by: "erin", outbox: outbox)
        #expect(report.decided.map(\.externalID) == ["PTL-0001", "PTL-0002"])
        #expect(report.openingsScheduled == 2)
        #expect(report.emails == 2)
        #expect(try connection.scalar("SELECT count(*) FROM dossiers WHERE state = 'validated'", as: Int.self) == 2)
        // Nothing left awaiting: a second run decides nothing.
        let again = try administration.decideAllAwaiting(
            structure: "saint-amour", .approve, reason: nil, by: "erin", outbox: outbox)
        #expect(again.decided.isEmpty)
        #expect(again.emails == 0)
        let unknown = try #require(throws: BackOfficeError.self) {
            try administration.decideAllAwaiting(structure: "nowhere", .approve, reason: nil, by: "erin", outbox: outbox)
        }
        #expect(unknown.code == .notFound)
    }

    /// saint-amour with its rights opening set to `policy`, and PTL-0001 awaiting review.
    private func saintAmour(opening policy: String) throws -> String {
        let conninfo = try Fixture.migratedDatabase()
        try Fixture.pinClock(conninfo)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        var structures = try String(contentsOfFile: "\(Fixture.examples)/structures.json", encoding: .utf8)
        structures = structures.replacingOccurrences(
            of: #""rights_opening": "scheduled""#, with: #""rights_opening": "\#(policy)""#)
        _ = try administration.applyStructures(file: try Fixture.data(Data(structures.utf8), name: "structures.json"))
        _ = try administration.importDossiers(file: try Fixture.file([try #require(try Fixture.exampleLines()["PTL-0001"])]))
        _ = try WorkerRunner(conninfo: conninfo, configuration: WorkerConfiguration(), outbox: outbox, logger: Fixture.logger)
            .drain()
        return conninfo
    }

    @Test func approvalOpensRightsAtOnceWhereTheStructureOpensThemOnValidation() throws {
        let conninfo = try saintAmour(opening: "on_validation")
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.decide("PTL-0001", .approve, reason: "vu au guichet", by: "alice", outbox: outbox)
        #expect(report.planningOpened == 1)
        #expect(report.childrenWithRights == 1)
        #expect(report.openingsScheduled == 0)
        #expect(report.emails == 2) // dossier-processed and planning-open
        let connection = try Fixture.connection(conninfo)
        #expect(try state("PTL-0001", connection) == "planning_open")
        #expect(try connection.scalar("SELECT opened_by FROM reservation_rights", as: String.self) == "admin:alice")
        let events = try connection.query(
            """
            SELECT e.from_state::text || '>' || e.to_state::text AS move, e.actor, coalesce(e.reason, '-') AS reason
            FROM dossier_events e WHERE e.actor LIKE 'admin:%' ORDER BY e.id
            """
        ).map {
            "\(try $0.decode(String.self, "move")) \(try $0.decode(String.self, "actor")) \(try $0.decode(String.self, "reason"))"
        }
        #expect(
            events == [
                "awaiting_review>validated admin:alice vu au guichet", "validated>planning_open admin:alice -",
            ])
        #expect(
            try connection.scalar("SELECT string_agg(kind::text, ',' ORDER BY kind) FROM email_outbox", as: String.self)
                == "dossier-processed,planning-open")
    }

    @Test func approvalOpensNothingWhereTheStructureOpensRightsByHand() throws {
        let conninfo = try saintAmour(opening: "manual")
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.decide("PTL-0001", .approve, reason: nil, by: "alice", outbox: outbox)
        #expect(report.planningOpened == 0 && report.openingsScheduled == 0)
        #expect(report.emails == 1)
        let connection = try Fixture.connection(conninfo)
        #expect(try state("PTL-0001", connection) == "validated")
        #expect(try connection.scalar("SELECT count(*) FROM reservation_rights", as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue", as: Int.self) == 0)
    }
}
