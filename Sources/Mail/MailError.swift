/// Why an email could not be composed or an outbox not be written.
public struct MailError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem; scripts match on it. New codes may be added.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// An email address that cannot be put in a header (not ASCII, no `@`, spaces, specials).
        public static let invalidAddress = Code(rawValue: "invalid_address")
        /// A `Message-ID` that is not `left@right` in printable ASCII without `<`, `>` or spaces, or
        /// that is missing or too long to name an exported file.
        public static let invalidMessageID = Code(rawValue: "invalid_message_id")
        /// A structure's time zone identifier that this system does not know.
        public static let invalidTimeZone = Code(rawValue: "invalid_time_zone")
        /// Stored message bytes that are not in the layout this library composes.
        public static let unreadableMessage = Code(rawValue: "unreadable_message")
        /// A file or directory the product was to write through is a symbolic link, not a regular
        /// file (a directory, a FIFO…), someone else's, or a hard link: nothing was written to it.
        public static let refusedFile = Code(rawValue: "refused_file")
        /// A file system call failed; `errno` says why.
        public static let io = Code(rawValue: "io")
    }

    public var code: Code
    public var reason: String
    /// The file or directory concerned, for ``Code/io``.
    public var path: String?
    /// The C `errno` of a failed system call.
    public var errno: Int32?

    public init(code: Code, reason: String, path: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.reason = reason
        self.path = path
        self.errno = errno
    }

    public var description: String {
        var text = reason
        if let path { text = "\(path): " + text }
        if let errno { text += " (errno \(errno))" }
        return text + " (\(code))"
    }
}
