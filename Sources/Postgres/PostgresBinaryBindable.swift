/// A parameter sent in PostgreSQL's binary format rather than as text.
///
/// For large values whose text form the server would read character by character: a worker's
/// batch of rendered emails is about a megabyte, and encoding it as an array literal of base64
/// strings, then parsing that, cost a worker 10–15 % of its rate. ``Connection/query(_:_:)``
/// sends a conforming parameter with its type's OID and format 1; ``postgresText`` stays the
/// same value as text, for places that can only send text.
public protocol PostgresBinaryBindable: PostgresBindable {
    /// The OID of the PostgreSQL type the bytes are in (`pg_type.oid`).
    static var postgresTypeOID: UInt32 { get }
    /// Appends the value in the type's binary wire format (its `_send` function's output).
    func appendPostgresBinary(to buffer: inout [UInt8])
}

/// A one-dimensional `bytea[]` of non-NULL elements, sent in binary: each element travels as its
/// bytes, with no hex or escaping on either side.
public struct PostgresByteaArray: Sendable, Hashable, PostgresBinaryBindable {
    public var elements: [[UInt8]]

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
            buffer.appendBigEndian(UInt32(element.count))
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
