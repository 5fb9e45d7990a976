internal import CLibPQ
import Foundation

extension Connection {
    /// Runs one statement like ``query(_:_:)``, but asks libpq for the results in binary format.
    ///
    /// For bulk reads of `bytea`: the text format sends each byte as two hex digits that must be
    /// decoded again; the binary format sends the bytes themselves. Parameters are sent as
    /// ``query(_:_:)`` sends them. Read the columns with ``BinaryRow``'s typed accessors, which check the column type.
    /// - Parameters:
    ///   - sql: One SQL statement. Cast columns to one of the types ``BinaryRow`` reads.
    ///   - parameters: The values of `$1`, `$2`...; `nil` is SQL `NULL`.
    /// - Throws: As ``query(_:_:)``.
    public func queryBinary(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError)
        -> BinaryQueryResult
    {
        BinaryQueryResult(try execute(sql, parameters, resultFormat: 1).storage)
    }
}

/// The rows of ``Connection/queryBinary(_:_:)``: values in PostgreSQL's binary format.
///
/// A separate type from ``QueryResult`` so that the text decoders never read binary values.
public struct BinaryQueryResult: RandomAccessCollection {
    public typealias Index = Int
    public typealias Element = BinaryRow
    public typealias Indices = Range<Int>
    public typealias SubSequence = Slice<BinaryQueryResult>
    public typealias Iterator = IndexingIterator<BinaryQueryResult>

    let storage: ResultStorage

    init(_ storage: ResultStorage) { self.storage = storage }

    /// The column names, in the order of the select list.
    public var columns: [String] { storage.columns }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }

    public subscript(position: Int) -> BinaryRow {
        precondition(indices.contains(position), "row \(position) out of range 0..<\(storage.rowCount)")
        return BinaryRow(storage: storage, index: position)
    }
}

/// One row of a ``BinaryQueryResult``. Each accessor checks the column's type and throws a
/// `decoding` ``PostgresError`` naming the column when it does not fit or is NULL.
public struct BinaryRow {
    let storage: ResultStorage
    let index: Int

    /// Type OIDs from `pg_type` (stable across versions).
    private enum OID {
        static let bytea: UInt32 = 17
        static let int8: UInt32 = 20
        static let int2: UInt32 = 21
        static let int4: UInt32 = 23
        static let text: UInt32 = 25
        static let varchar: UInt32 = 1043
        static let timestamptz: UInt32 = 1184
    }

    /// The bytes of a `bytea` column, as stored.
    public func bytes(_ column: String) throws(PostgresError) -> [UInt8] {
        try value(column, types: [OID.bytea], expected: "bytea") { pointer, length in
            Array(UnsafeRawBufferPointer(start: pointer, count: length))
        }
    }

    /// A `text` or `varchar` column (the session's client encoding is UTF-8).
    public func string(_ column: String) throws(PostgresError) -> String {
        try value(column, types: [OID.text, OID.varchar], expected: "text") { pointer, length in
            String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
        }
    }

    /// A `bigint`, `integer` or `smallint` column.
    public func int64(_ column: String) throws(PostgresError) -> Int64 {
        let name = column
        let (pointer, length, type) = try raw(column)
        let wanted: Int
        switch type {
        case OID.int8: wanted = 8
        case OID.int4: wanted = 4
        case OID.int2: wanted = 2
        default: throw mismatch(name, "an integer", type)
        }
        guard length == wanted else { throw badLength(name, length) }
        return Self.bigEndian(pointer, length)
    }

    /// A `timestamptz` column (microseconds since 2000-01-01 UTC on the wire).
    public func date(_ column: String) throws(PostgresError) -> Date {
        let name = column
        let (pointer, length, type) = try raw(column)
        guard type == OID.timestamptz else { throw mismatch(name, "timestamptz", type) }
        guard length == 8 else { throw badLength(name, length) }
        let micros = Self.bigEndian(pointer, 8)
        guard micros != Int64.max, micros != Int64.min else {
            throw PostgresError(code: .decoding, message: "column \"\(name)\" is infinity, not a date", column: name)
        }
        // 2000-01-01 00:00:00 UTC is 946,684,800 s after the Unix epoch.
        return Date(timeIntervalSince1970: 946_684_800 + Double(micros) / 1_000_000)
    }

    /// Whether the column is NULL; also `true` when the result has no such column.
    public func isNull(_ column: String) -> Bool {
        guard let position = storage.columnIndex[column] else { return true }
        return PQgetisnull(storage.result, Int32(index), Int32(position)) != 0
    }

    // MARK: - Private

    private func value<T>(
        _ column: String, types: [UInt32], expected: String, _ read: (UnsafeRawPointer, Int) -> T
    ) throws(PostgresError) -> T {
        let (pointer, length, type) = try raw(column)
        guard types.contains(type) else { throw mismatch(column, expected, type) }
        return read(pointer, length)
    }

    private func raw(_ column: String) throws(PostgresError) -> (UnsafeRawPointer, Int, UInt32) {
        guard let position = storage.columnIndex[column] else {
            throw PostgresError(
                code: .client,
                message: "the result has no column \"\(column)\" (columns: \(storage.columns.joined(separator: ", ")))",
                column: column)
        }
        let row = Int32(index)
        let field = Int32(position)
        guard PQgetisnull(storage.result, row, field) == 0, let value = PQgetvalue(storage.result, row, field) else {
            throw PostgresError(code: .decoding, message: "column \"\(column)\" is NULL", column: column)
        }
        return (UnsafeRawPointer(value), Int(PQgetlength(storage.result, row, field)), PQftype(storage.result, field))
    }

    private func mismatch(_ column: String, _ expected: String, _ type: UInt32) -> PostgresError {
        PostgresError(
            code: .decoding, message: "column \"\(column)\" has type OID \(type), not \(expected): cast it in the query",
            column: column)
    }

    private func badLength(_ column: String, _ length: Int) -> PostgresError {
        PostgresError(code: .decoding, message: "column \"\(column)\" has an unexpected binary length \(length)", column: column)
    }

    private static func bigEndian(_ pointer: UnsafeRawPointer, _ length: Int) -> Int64 {
        var value: UInt64 = 0
        for offset in 0..<length { value = value << 8 | UInt64(pointer.load(fromByteOffset: offset, as: UInt8.self)) }
        // Sign-extend the narrower integers.
        let shift = UInt64(64 - 8 * length)
        return Int64(bitPattern: value << shift) >> shift
    }
}
