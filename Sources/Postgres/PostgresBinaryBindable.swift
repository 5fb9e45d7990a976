/// A parameter sent in PostgreSQL's binary format rather than as text.
///
/// For large values whose text form the server would read character by character and the client
/// would have to escape. ``Connection/query(_:_:)`` sends a conforming parameter with its type's
/// OID and format 1; ``PostgresBindable/postgresText`` stays the same value as text, for places
/// that can only send text.
///
/// - Important: the bytes must be exactly what the type's `_send` function produces, and
///   ``postgresTypeOID`` that type: the server reads them with the type's `_recv` function and
///   refuses (or misreads) anything else.
public protocol PostgresBinaryBindable: PostgresBindable {
    /// The OID of the PostgreSQL type the bytes are in (`pg_type.oid`).
    static var postgresTypeOID: UInt32 { get }
    /// Appends the value in the type's binary wire format (its `_send` function's output).
    func appendPostgresBinary(to buffer: inout [UInt8])
}

/// A one-dimensional `bytea[]` of non-NULL elements, sent in binary: each element travels as its
/// bytes, with no hex or escaping on either side.
public struct PostgresByteaArray: Sendable, Hashable, PostgresBinaryBindable {
    /// The array's elements, in order; each is one `bytea` value.
    public var elements: [[UInt8]]

    /// An array of these byte strings (empty: an empty array, not NULL).
    public init(_ elements: [[UInt8]]) { self.elements = elements }

    /// `bytea[]` (`SELECT 'bytea[]'::regtype::oid`).
    public static let postgresTypeOID: UInt32 = 1001
    static let byteaOID: UInt32 = 17

    /// array_send's layout: dimensions, a has-NULLs flag, the element type, each dimension's
    /// length and lower bound, then each element as a length and its bytes, integers big-endian.
    public func appendPostgresBinary(to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + 20 + elements.reduce(0) { $0 + 4 + $1.count })
        buffer.appendBigEndian(UInt32(elements.isEmpty ? 0 : 1))
        buffer.appendBigEndian(UInt32(0))
        buffer.appendBigEndian(Self.byteaOID)
        guard !elements.isEmpty else { return }
        buffer.appendBigEndian(UInt32(elements.count))
        buffer.appendBigEndian(UInt32(1))
        for element in elements {
            // An element over 4 GiB would wrap here, but the whole is then far over the 1 GB a
            // parameter may be, and refused before it is sent.
            buffer.appendBigEndian(UInt32(truncatingIfNeeded: element.count))
            buffer.append(contentsOf: element)
        }
    }

    public var postgresText: String { elements.map(PostgresBytes.init).postgresText }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
