import Dossiers
import Foundation
import Postgres

/// What storing one batch did.
struct IntakeOutcome: Sendable {
    var created = 0
    var resubmitted = 0
    var rejected: [RejectedLine] = []

    mutating func merge(_ other: IntakeOutcome) {
        created += other.created
        resubmitted += other.resubmitted
        rejected += other.rejected
    }
}

/// What the import writes for a batch, inside the caller's transaction: which lines are new
/// dossiers, which send a returned one again, which are refused; ``IntakeStore`` writes it.
///
/// Each dossier is written once, as submitted, its parts after it: the database lets the
/// transaction that submits a dossier write its parts (migration 009). New dossiers get their ids
/// before they are written, so that their parts can be sent with them.
struct IntakeWriter {
    typealias IntakeLine = DossierImporter.IntakeLine

    let database: IntakeStore

    init(connection: Connection) { database = IntakeStore(connection: connection) }

    func store(_ batch: [IntakeLine]) throws -> IntakeOutcome {
        let session = try database.beginBatch()
        var outcome = IntakeOutcome()
        let existing = Dictionary(
            try database.lockDossiers(externalIDs: batch.map(\.dossier.externalID)).map { ($0.externalID, $0) },
            uniquingKeysWith: { first, _ in first })
        var fresh: [IntakeLine] = []
        var resubmitted: [(line: IntakeLine, dossierID: Int64)] = []
        for line in batch {
            guard let found = existing[line.dossier.externalID] else {
                fresh.append(line)
                continue
            }
            if let refusal = Self.refusal(of: line, by: found) {
                outcome.rejected.append(refusal)
            } else {
                resubmitted.append((line, found.id))
            }
        }
        guard !fresh.isEmpty || !resubmitted.isEmpty else { return outcome }
        let accounts = try storeAccounts(fresh + resubmitted.map(\.line), session: session)
        let created = Array(zip(fresh, try database.drawIDs(for: "dossier_records", fresh.count)))
        let written = created + resubmitted.map { ($0.line, $0.dossierID) }

        try database.resubmit(
            try resubmitted.map { try Self.record($0.line, id: $0.dossierID, accounts: accounts) }, session: session)
        try database.insertSubmitted(try created.map { try Self.record($0.0, id: $0.1, accounts: accounts) }, session: session)
        try database.copyChildren(
            written.map { IntakeStore.ChildrenOfDossier(dossierID: $0.1, dossier: $0.0.dossier) }, session: session)
        try database.enqueueNew(created.map { Self.queued($0.0, id: $0.1, session: session) }, session: session)
        try database.enqueueAgain(resubmitted.map { Self.queued($0.line, id: $0.dossierID, session: session) })
        outcome.created = fresh.count
        outcome.resubmitted = resubmitted.count
        return outcome
    }

    /// Why a line naming a dossier that exists cannot be stored, or `nil`: a dossier is sent again
    /// only once returned, and stays with its structure and its account (migration 002: whoever
    /// reads the account's address must not receive another family's emails).
    static func refusal(of line: IntakeLine, by known: IntakeStore.KnownDossier) -> RejectedLine? {
        var reasons: [String] = []
        let externalID = known.externalID
        if known.state != DossierState.returned.rawValue {
            reasons.append(
                "$.external_id: dossier \(externalID) is \(known.state) and read-only; "
                    + "it can be sent again only after it has been returned")
        }
        if known.structureID != line.structureID {
            reasons.append(
                "$.structure: dossier \(externalID) belongs to the structure \(known.structureCode); "
                    + "it cannot be sent again to another one")
        }
        if line.dossier.account.email.lowercased() != known.accountEmail.lowercased() {
            // The address itself stays out of the message: rejected lines reach the logs.
            reasons.append(
                "$.account.email: dossier \(externalID) was sent by another account; "
                    + "it can be sent again only by the account that sent it")
        }
        guard !reasons.isEmpty else { return nil }
        return RejectedLine(line: line.number, externalID: externalID, reasons: reasons, input: line.input)
    }

    /// Creates or renames the lines' accounts (the last line naming an account names it) and
    /// returns each line's account id. A new account is a plain insert and a known one is written
    /// only when its names changed: no speculative insertion. (Two batches creating the same
    /// account at once: one meets the unique index, and its lines are stored one by one, when the
    /// account is found.)
    func storeAccounts(_ lines: [IntakeLine], session: IntakeStore.Session) throws -> [Int: Int64] {
        var latest: [IntakeStore.AccountKey: IntakeStore.Account] = [:]
        for line in lines.sorted(by: { $0.number < $1.number }) {
            let account = line.dossier.account
            let named = IntakeStore.Account(
                id: 0, structureID: line.structureID, email: account.email, firstName: account.firstName,
                lastName: account.lastName)
            latest[named.key] = named
        }
        let known = try database.lookUpAccounts(Array(latest.keys))
        let renamed = latest.compactMap { key, named -> IntakeStore.Account? in
            guard let account = known[key], (account.firstName, account.lastName) != (named.firstName, named.lastName) else {
                return nil
            }
            return IntakeStore.Account(
                id: account.id, structureID: account.structureID, email: account.email, firstName: named.firstName,
                lastName: named.lastName)
        }
        let unknown = latest.values.filter { known[$0.key] == nil }.sorted { $0.email < $1.email }
        let created = zip(unknown, try database.drawIDs(for: "accounts", unknown.count)).map { account, id in
            var account = account
            account.id = id
            return account
        }
        try database.insertAccounts(created, session: session)
        try database.renameAccounts(renamed)
        let ids = Dictionary(uniqueKeysWithValues: (Array(known.values) + created).map { ($0.key, $0.id) })
        var accounts: [Int: Int64] = [:]
        for line in lines {
            accounts[line.number] =
                ids[IntakeStore.AccountKey(structureID: line.structureID, email: line.dossier.account.email.lowercased())]
        }
        return accounts
    }

    static func record(_ line: IntakeLine, id: Int64, accounts: [Int: Int64]) throws -> IntakeStore.Record {
        guard let accountID = accounts[line.number] else {
            throw BackOfficeError(.failure, "line \(line.number): no account was stored for \(line.dossier.externalID)")
        }
        return IntakeStore.Record(
            id: id, structureID: line.structureID, accountID: accountID, dossier: line.dossier, content: line.content,
            contentSHA256: SHA256.digest(line.input))
    }

    /// Due at submission, so that the oldest submission is claimed first; never later than now.
    static func queued(_ line: IntakeLine, id: Int64, session: IntakeStore.Session) -> IntakeStore.QueuedDossier {
        IntakeStore.QueuedDossier(dossierID: id, runAt: min(line.dossier.submittedAt, session.now))
    }
}
