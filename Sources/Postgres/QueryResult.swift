internal import CLibPQ

/// Owns a libpq result and frees it when the last ``QueryResult`` or ``Row`` using it goes away.
final class ResultStorage {
    let result: OpaquePointer
    let columns: [String]
    let columnIndex: [String: Int]
    let rowCount: Int

    init(_ result: OpaquePointer) {
        self.result = result
        let count = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(count)
        var index: [String: Int] = [:]
        for column in 0..<count {
            let name = PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
            columns.append(name)
            // A duplicated name refers to its first occurrence, as in SQL's own lookups.
            if index[name] == nil { index[name] = column }
        }
        self.columns = columns
        self.columnIndex = index
        self.rowCount = Int(PQntuples(result))
    }

    deinit {
        PQclear(result)
    }

    func text(row: Int, column: Int) -> String? {
        if PQgetisnull(result, Int32(row), Int32(column)) != 0 { return nil }
        guard let value = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        return String(cString: value)
    }
}

/// The rows a statement returned, in order, with its column names and affected-row count.
public struct QueryResult: Sequence, RandomAccessCollection {
    public typealias Index = Int
    public typealias Element = Row
    public typealias Indices = Range<Int>
    public typealias SubSequence = Slice<QueryResult>
    public typealias Iterator = IndexingIterator<QueryResult>

    let storage: ResultStorage

    init(_ storage: ResultStorage) {
        self.storage = storage
        self.columns = storage.columns
        let tuples = PQcmdTuples(storage.result).map { String(cString: $0) } ?? ""
        self.rowsAffected = Int(tuples) ?? 0
    }

    /// The column names, in the order of the select list.
    public var columns: [String]
    /// The number of rows the statement inserted, updated, deleted, selected or copied; 0 when the
    /// command does not report one.
    public var rowsAffected: Int

    /// The command tag, such as `INSERT 0 1` or `UPDATE 3`.
    public var commandTag: String {
        PQcmdStatus(storage.result).map { String(cString: $0) } ?? ""
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }

    public subscript(position: Int) -> Row {
        precondition(indices.contains(position), "row \(position) out of range 0..<\(storage.rowCount)")
        return Row(storage: storage, index: position)
    }
}
