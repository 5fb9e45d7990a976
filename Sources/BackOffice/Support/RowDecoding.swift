import Dossiers
import Mail
import Postgres

/// A Swift enum stored in a PostgreSQL enum (or text) column, read and bound by its raw value.
///
/// A value the enum does not know is a decoding error naming the column (``Row`` adds it) and the
/// value, never a silent default: a label added to the SQL enum without its Swift case must fail
/// loudly where it is read. Enum labels are schema, not personal data, so the value is quoted.
protocol StoredEnum: PostgresDecodable, PostgresBindable, PostgresArrayElement, RawRepresentable, CaseIterable
where RawValue == String {}

extension StoredEnum {
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        guard let value = Self(rawValue: postgresText) else {
            let accepted = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw PostgresDecodingFailure("'\(postgresText)' is not a \(Self.self) (one of \(accepted))")
        }
        self = value
    }

    public var postgresText: String { rawValue }
}

extension DossierState: PostgresDecodable, PostgresBindable, PostgresArrayElement, StoredEnum {}
extension Outcome: PostgresDecodable, PostgresBindable, PostgresArrayElement, StoredEnum {}
extension QueueItem.Job: PostgresDecodable, PostgresBindable, PostgresArrayElement, StoredEnum {}
extension EmailKind: PostgresDecodable, PostgresBindable, PostgresArrayElement, StoredEnum {}
