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

    public func appendPostgresBinary(to buffer: inout [UInt8]) {
        buffer.appendPostgresArray(
            of: elements, elementOID: Self.byteaOID, elementBytes: elements.reduce(0) { $0 + $1.count }
        ) { element, buffer in
            buffer.append(contentsOf: element)
        }
    }

    public var postgresText: String { elements.map(PostgresBytes.init).postgresText }
}

/// An element type whose one-dimensional arrays ``PostgresBinaryArray`` sends in binary.
public protocol PostgresBinaryArrayElement: PostgresArrayElement, PostgresBindable, Sendable, Hashable {
    /// The element type's OID, and its array type's.
    static var postgresElementOID: UInt32 { get }
    static var postgresArrayOID: UInt32 { get }
    /// Appends the element's binary form (its type's `_send` output, without the length).
    func appendPostgresBinaryElement(to buffer: inout [UInt8])
    /// How many bytes ``appendPostgresBinaryElement(to:)`` appends.
    var postgresBinaryElementSize: Int { get }
}

/// A one-dimensional array of non-NULL `bigint` or `text` elements, sent in binary: the server
/// reads each element's bytes instead of parsing (and unescaping) the array's literal. For the
/// large arrays of a worker's batch: its emails' particulars (JSON, every `"` escaped in a
/// literal) took the server a few per cent of its instructions to read as text.
///
/// The parameter is typed `int8[]` or `text[]`: the statement's SQL must take it as such (cast
/// `$1::bigint[]`, `$2::text[]`, as an untyped text parameter may be any array).
public struct PostgresBinaryArray<Element: PostgresBinaryArrayElement>: Sendable, Hashable, PostgresBinaryBindable {
    public var elements: [Element]

    public init(_ elements: [Element]) { self.elements = elements }

    public static var postgresTypeOID: UInt32 { Element.postgresArrayOID }

    public func appendPostgresBinary(to buffer: inout [UInt8]) {
        buffer.appendPostgresArray(
            of: elements, elementOID: Element.postgresElementOID,
            elementBytes: elements.reduce(0) { $0 + $1.postgresBinaryElementSize }
        ) { element, buffer in
            element.appendPostgresBinaryElement(to: &buffer)
        }
    }

    public var postgresText: String { elements.postgresText }
}

extension Int64: PostgresBinaryArrayElement {
    public static let postgresElementOID: UInt32 = 20
    public static let postgresArrayOID: UInt32 = 1016

    public func appendPostgresBinaryElement(to buffer: inout [UInt8]) {
        Swift.withUnsafeBytes(of: bigEndian) { buffer.append(contentsOf: $0) }
    }

    public var postgresBinaryElementSize: Int { 8 }
}

/// A string's UTF-8 bytes. A NUL, which `text` cannot hold, is refused by the server (`22021`).
extension String: PostgresBinaryArrayElement {
    public static let postgresElementOID: UInt32 = 25
    public static let postgresArrayOID: UInt32 = 1009

    public func appendPostgresBinaryElement(to buffer: inout [UInt8]) {
        buffer.append(contentsOf: utf8)
    }

    public var postgresBinaryElementSize: Int { utf8.count }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// array_send's layout: dimensions, a has-NULLs flag, the element type, each dimension's
    /// length and lower bound, then each element as a length and its bytes, integers big-endian.
    /// (No dimension at all for an empty array.) `elementBytes`, the elements' bytes without their
    /// lengths, sizes the buffer once: a worker's batch of particulars is about a megabyte.
    fileprivate mutating func appendPostgresArray<Value>(
        of elements: [Value], elementOID: UInt32, elementBytes: Int, appendElement: (Value, inout [UInt8]) -> Void
    ) {
        reserveCapacity(count + 20 + 4 * elements.count + elementBytes)
        appendBigEndian(UInt32(elements.isEmpty ? 0 : 1))
        appendBigEndian(UInt32(0))
        appendBigEndian(elementOID)
        guard !elements.isEmpty else { return }
        appendBigEndian(UInt32(elements.count))
        appendBigEndian(UInt32(1))
        for element in elements {
            let lengthAt = count
            appendBigEndian(0)
            appendElement(element, &self)
            // An element over 4 GiB would wrap here, but the whole is then far over the 1 GB a
            // parameter may be, and refused before it is sent.
            let length = UInt32(truncatingIfNeeded: count - lengthAt - 4).bigEndian
            Swift.withUnsafeBytes(of: length) { bytes in
                for (offset, byte) in bytes.enumerated() { self[lengthAt + offset] = byte }
            }
        }
    }
}

extension Array where Element: PostgresBinaryArrayElement {
    /// This array as a parameter sent in binary (``PostgresBinaryArray``).
    public var postgresBinary: PostgresBinaryArray<Element> { PostgresBinaryArray(self) }
}
