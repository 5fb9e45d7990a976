/// One row of a ``QueryResult``; values are read by column name or position.
public struct Row {
    let storage: ResultStorage
    let index: Int

    /// The column names of the result this row belongs to.
    public var columns: [String] { storage.columns }

    /// Reads a non-NULL column as `T`.
    ///
    /// - Parameters:
    ///   - type: The Swift type to read.
    ///   - column: The column name as the result names it.
    /// - Throws: ``PostgresError`` with code `decoding` naming the column when it is NULL or its
    ///   text is not a `T`; code `client` when the result has no such column.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws(PostgresError) -> T {
        try decode(type, at: position(of: column))
    }

    /// Reads a non-NULL column as `T`, the type coming from the context: `let id: Int = try row.decode("id")`.
    ///
    /// Exists because Swift cannot skip the defaulted first parameter of ``decode(_:_:)``.
    /// - Throws: As ``decode(_:_:)``.
    public func decode<T: PostgresDecodable>(_ column: String) throws(PostgresError) -> T {
        try decode(T.self, at: position(of: column))
    }

    /// Reads a column as `T`, or `nil` when it is NULL.
    ///
    /// - Throws: ``PostgresError`` with code `decoding` when the text is not a `T`; code
    ///   `client` when the result has no such column.
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws(PostgresError)
        -> T?
    {
        let column = try position(of: column)
        guard storage.text(row: index, column: column) != nil else { return nil }
        return try decode(type, at: column)
    }

    /// Reads a column as `T?`, the type coming from the context: `let note: String? = try row.decodeIfPresent("note")`.
    public func decodeIfPresent<T: PostgresDecodable>(_ column: String) throws(PostgresError) -> T? {
        try decodeIfPresent(T.self, column)
    }

    /// Reads the non-NULL column at `index` (0-based, in select-list order) as `T`.
    ///
    /// - Throws: ``PostgresError`` with code `decoding` naming the column when it is NULL or its
    ///   text is not a `T`; code `client` when the index is out of range.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws(PostgresError) -> T {
        guard storage.columns.indices.contains(index) else {
            throw PostgresError(
                code: .client, message: "no column at index \(index): the result has \(storage.columns.count) columns")
        }
        let name = storage.columns[index]
        guard let text = storage.text(row: self.index, column: index) else {
            throw PostgresError(
                code: .decoding, message: "column \"\(name)\" is NULL where a \(T.self) was expected", column: name)
        }
        do {
            return try T(postgresText: text)
        } catch {
            throw PostgresError(
                code: .decoding, message: "column \"\(name)\" cannot be read as \(T.self): \(error.reason)",
                column: name)
        }
    }

    /// Whether the column is NULL; also `true` when the result has no such column.
    public func isNull(_ column: String) -> Bool {
        self[column] == nil
    }

    /// The raw text of a column, `nil` when it is NULL or absent.
    public subscript(column: String) -> String? {
        guard let position = storage.columnIndex[column] else { return nil }
        return storage.text(row: index, column: position)
    }

    private func position(of column: String) throws(PostgresError) -> Int {
        guard let position = storage.columnIndex[column] else {
            throw PostgresError(
                code: .client,
                message: "the result has no column \"\(column)\" (columns: \(storage.columns.joined(separator: ", ")))",
                column: column)
        }
        return position
    }
}
