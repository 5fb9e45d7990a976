/// A failure to reach or use the mail relay, before any message was handed over.
///
/// `code` is what callers match; `message` names the relay, the step and what to check, never a
/// password or a family's address.
public struct SMTPError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The settings or the credentials file are unusable: nothing was tried.
        public static let configuration = Code(name: "configuration")
        /// The relay could not be reached, or the TLS handshake failed.
        public static let unreachable = Code(name: "unreachable")
        /// The relay refused the session: its greeting, EHLO, STARTTLS or AUTH said no.
        public static let refused = Code(name: "refused")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
