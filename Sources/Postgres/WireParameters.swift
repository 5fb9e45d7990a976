internal import CLibPQ
import Glibc

/// Statement parameters as `PQexecParams` takes them: C buffers that the call borrows, freed when
/// this value goes away (it cannot be copied, so they are freed once).
struct WireParameters: ~Copyable {
    private(set) var values: [UnsafeMutablePointer<CChar>?] = []
    /// 0 lets the server infer a text parameter's type from the statement.
    private(set) var types: [Oid] = []
    /// Read by libpq for binary parameters only.
    private(set) var lengths: [Int32] = []
    /// 0 text, 1 binary.
    private(set) var formats: [Int32] = []

    /// The server refuses a value over 1 GB (MaxAllocSize) anyway; refusing it here says which.
    static let largestValue = 0x3fff_ffff

    init(_ parameters: [(any PostgresBindable)?], sql: String) throws(PostgresError) {
        var buffers = Buffers()
        buffers.values.reserveCapacity(parameters.count)
        do {
            for (index, parameter) in parameters.enumerated() {
                switch parameter {
                case nil: buffers.append(nil, type: 0, length: 0, format: 0)
                case let binary as any PostgresBinaryBindable: try buffers.appendBinary(binary, at: index, sql: sql)
                case let parameter?: try buffers.appendText(parameter.postgresText, at: index, sql: sql)
                }
            }
        } catch {
            buffers.values.forEach { free($0) }
            throw error
        }
        (values, types, lengths, formats) = (buffers.values, buffers.types, buffers.lengths, buffers.formats)
    }

    deinit { values.forEach { free($0) } }

    /// What the initialiser builds; it owns nothing until the initialiser hands it to `self`.
    private struct Buffers {
        var values: [UnsafeMutablePointer<CChar>?] = []
        var types: [Oid] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []

        mutating func appendText(_ text: String, at index: Int, sql: String) throws(PostgresError) {
            if text.utf8.contains(0) {
                throw PostgresError(
                    code: .client, message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                    query: sql)
            }
            // A NULL pointer would be SQL NULL to libpq.
            guard let copy = strdup(text) else { throw Self.outOfMemory(index, sql) }
            append(copy, type: 0, length: 0, format: 0)
        }

        mutating func appendBinary(_ parameter: any PostgresBinaryBindable, at index: Int, sql: String)
            throws(PostgresError)
        {
            var bytes: [UInt8] = []
            parameter.appendPostgresBinary(to: &bytes)
            guard bytes.count <= WireParameters.largestValue else {
                throw PostgresError(
                    code: .client, message: "parameter $\(index + 1) is over 1 GB, more than PostgreSQL takes in one value",
                    query: sql)
            }
            guard let buffer = malloc(max(bytes.count, 1))?.assumingMemoryBound(to: CChar.self) else {
                throw Self.outOfMemory(index, sql)
            }
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress {
                    buffer.update(from: base.assumingMemoryBound(to: CChar.self), count: bytes.count)
                }
            }
            append(buffer, type: type(of: parameter).postgresTypeOID, length: Int32(bytes.count), format: 1)
        }

        mutating func append(_ value: UnsafeMutablePointer<CChar>?, type: Oid, length: Int32, format: Int32) {
            values.append(value)
            types.append(type)
            lengths.append(length)
            formats.append(format)
        }

        static func outOfMemory(_ index: Int, _ sql: String) -> PostgresError {
            PostgresError(code: .client, message: "no memory for parameter $\(index + 1)", query: sql)
        }
    }
}
