/// How a structure's emails present it: all optional; a structure without branding gets the
/// neutral design.
public struct Branding: Sendable, Equatable {
    /// The name in the email's header, when it should differ from the structure's `name`.
    public var displayName: String?
    /// An `https://` image shown in the header (with the display name as its `alt`).
    public var logoURL: String?
    /// `#rrggbb`, lower case: the header band and the button.
    public var accentColor: String?
    /// How families reach the structure, shown in the footer.
    public var phone: String?
    public var address: String?
    public var openingHours: String?

    public init(
        displayName: String? = nil, logoURL: String? = nil, accentColor: String? = nil, phone: String? = nil,
        address: String? = nil, openingHours: String? = nil
    ) {
        self.displayName = displayName
        self.logoURL = logoURL
        self.accentColor = accentColor
        self.phone = phone
        self.address = address
        self.openingHours = openingHours
    }

    /// What an accent colour must look like, for error messages.
    public static let accentColorForm = "#RRGGBB, six hexadecimal digits (e.g. #1f5fa8)"
    /// What a logo address must look like, for error messages.
    public static let logoURLForm = "an https:// address without spaces, quotes, <, > or backslashes, at most 2000 characters"

    /// `#rrggbb` in lower case, or `nil` when `text` is not one.
    public static func accentColor(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 7, bytes[0] == UInt8(ascii: "#"),
            bytes.dropFirst().allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
        else { return nil }
        return text.lowercased()
    }

    /// Whether `text` is a logo address an email may load: `https://`, a host, nothing that could
    /// leave an attribute or a CSS value.
    public static func isLogoURL(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let prefix = Array("https://".utf8)
        guard bytes.count > prefix.count, bytes.count <= 2000,
            bytes.prefix(prefix.count).map({ $0 | ($0 >= 0x41 && $0 <= 0x5A ? 0x20 : 0) }) == prefix
        else { return false }
        let host = bytes.dropFirst(prefix.count).prefix { $0 != UInt8(ascii: "/") }
        return !host.isEmpty
            && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && !Array("\"'<>\\`()".utf8).contains($0) }
    }
}
