import CLibPQ
import Glibc

/// Statement parameters as `PQexecParams` takes them: C buffers that the call borrows, to be freed
/// with ``deallocate()`` once it returns.
struct WireParameters {
    private(set) var values: [UnsafeMutablePointer<CChar>?] = []
    /// 0 lets the server infer a text parameter's type from the statement.
    private(set) var types: [Oid] = []
    /// Read by libpq for binary parameters only.
    private(set) var lengths: [Int32] = []
    /// 0 text, 1 binary.
    private(set) var formats: [Int32] = []

    init(_ parameters: [(any PostgresBindable)?], sql: String) throws(PostgresError) {
        values.reserveCapacity(parameters.count)
        do {
            for (index, parameter) in parameters.enumerated() {
                switch parameter {
                case nil: append(nil, type: 0, length: 0, format: 0)
                case let binary as any PostgresBinaryBindable: try appendBinary(binary, at: index, sql: sql)
                case let parameter?: try appendText(parameter.postgresText, at: index, sql: sql)
                }
            }
        } catch {
            deallocate()
            throw error
        }
    }

    func deallocate() { values.forEach { free($0) } }

    private mutating func appendText(_ text: String, at index: Int, sql: String) throws(PostgresError) {
        if text.utf8.contains(0) {
            throw PostgresError(
                code: .client, message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                query: sql)
        }
        append(strdup(text), type: 0, length: 0, format: 0)
    }

    private mutating func appendBinary(_ parameter: any PostgresBinaryBindable, at index: Int, sql: String)
        throws(PostgresError)
    {
        var bytes: [UInt8] = []
        parameter.appendPostgresBinary(to: &bytes)
        guard let length = Int32(exactly: bytes.count) else {
            throw PostgresError(code: .client, message: "parameter $\(index + 1) is over 2 GB, more than one message can carry", query: sql)
        }
        // At least one byte: a NULL pointer would be SQL NULL to libpq.
        guard let buffer = malloc(max(bytes.count, 1))?.assumingMemoryBound(to: CChar.self) else {
            throw PostgresError(code: .client, message: "no memory for parameter $\(index + 1)", query: sql)
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { buffer.update(from: base.assumingMemoryBound(to: CChar.self), count: bytes.count) }
        }
        append(buffer, type: type(of: parameter).postgresTypeOID, length: length, format: 1)
    }

    private mutating func append(_ value: UnsafeMutablePointer<CChar>?, type: Oid, length: Int32, format: Int32) {
        values.append(value)
        types.append(type)
        lengths.append(length)
        formats.append(format)
    }
}
