import Postgres

/// A failure of the back office that an administrator can act on.
///
/// `code` is what scripts match; `message` is written for the person at the terminal and names
/// the dossier, file or line concerned, never a family's personal data.
public struct BackOfficeError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// Input data is wrong (a bad import line, a bad structures file): nothing was written.
        public static let badInput = Code(name: "bad_input")
        /// The database cannot be reached, or the connection was lost.
        public static let databaseUnreachable = Code(name: "database_unreachable")
        /// What was asked does not exist (a dossier, a structure).
        public static let notFound = Code(name: "not_found")
        /// The state of the data does not allow it (an illegal transition, a read-only dossier).
        public static let refused = Code(name: "refused")
        /// The schema is not as this version expects (a changed migration, a missing one).
        public static let schema = Code(name: "schema")
        /// Another run holds the lock.
        public static let busy = Code(name: "busy")
        /// The mail relay cannot be reached, or refused the session (TLS, AUTH): nothing was sent
        /// on that connection.
        public static let relayUnavailable = Code(name: "relay_unavailable")
        /// Anything else: a bug, or the database saying no in a way we did not foresee.
        public static let failure = Code(name: "failure")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}

extension BackOfficeError {
    /// undefined_table: a query named a relation the database does not have.
    static let undefinedTable = "42P01"
}

/// SQLSTATEs raised by the schema's own triggers (`sql/002_dossiers.sql`).
enum SchemaSQLState {
    static let readOnlyDossier = "ETK01"
    static let illegalTransition = "ETK02"
    static let appendOnly = "ETK03"
    static let reservationRefused = "ETK04"
    static let missingActor = "ETK05"
    static let notThisRolesMove = "ETK06"
    static let decisionMissing = "ETK07"
    static let emailWithoutCause = "ETK08"
    static let finalDelivery = "ETK09"
    /// An email to anyone but its dossier's account, or from another address than its structure's (027).
    static let misaddressedEmail = "ETK10"
}

extension BackOfficeError {
    /// Translates a database error into the back office's terms, keeping the server's message
    /// (without the values a data exception quotes: the message may be printed or logged).
    package init(_ error: PostgresError, doing action: String) {
        let code: Code
        if error.sqlState == Self.undefinedTable {
            // A relation of ours missing: the database was never migrated, or not to this version.
            self.init(
                .schema,
                "\(action): \(error.messageWithoutValues): this database is not migrated to this version of eticket: "
                    + "run `eticket db migrate` (as the schema's owner; `eticket db status` shows what is applied)",
                underlying: error)
            return
        }
        if error.isConnectionError {
            code = .databaseUnreachable
        } else {
            switch error.sqlState {
            case SchemaSQLState.readOnlyDossier, SchemaSQLState.illegalTransition,
                SchemaSQLState.reservationRefused, SchemaSQLState.appendOnly, SchemaSQLState.notThisRolesMove,
                SchemaSQLState.decisionMissing, SchemaSQLState.emailWithoutCause, SchemaSQLState.finalDelivery,
                SchemaSQLState.misaddressedEmail:
                code = .refused
            default:
                code = .failure
            }
        }
        self.init(code, "\(action): \(error.messageWithoutValues)", underlying: error)
    }
}

/// Runs `body`, turning a `PostgresError` into a ``BackOfficeError`` that says what was being done.
@discardableResult
package func database<T>(_ action: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as PostgresError {
        throw BackOfficeError(error, doing: action())
    }
}
