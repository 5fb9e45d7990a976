import Foundation

/// The text of a `json` or `jsonb` value, kept as the server wrote it.
///
/// Bind a `PostgresJSON` to a `json`/`jsonb` parameter and decode one from such a column; use
/// ``init(encoding:encoder:)`` and ``decode(_:decoder:)`` to go through `Codable`.
public struct PostgresJSON: Sendable, Hashable, PostgresBindable, PostgresDecodable {
    public var text: String

    public init(_ text: String) { self.text = text }

    /// Encodes a value with `JSONEncoder`.
    /// - Throws: The encoder's error.
    public init(encoding value: some Encodable, encoder: JSONEncoder = JSONEncoder()) throws {
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes the JSON text with `JSONDecoder`.
    /// - Throws: The decoder's error.
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    public var postgresText: String { text }

    public init(postgresText: String) { text = postgresText }
}
