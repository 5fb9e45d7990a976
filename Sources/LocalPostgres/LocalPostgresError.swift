/// Why a local throw-away PostgreSQL cluster could not be provided.
public struct LocalPostgresError: Error, CustomStringConvertible, Sendable {
    /// What failed. Opaque so that new codes never break existing callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The PostgreSQL server binaries (`postgres`, `initdb`) are not installed.
        public static let notInstalled = Code("notInstalled")
        /// `initdb` failed; the message carries the end of its output.
        public static let initdbFailed = Code("initdbFailed")
        /// The server could not be started or exited during start-up; the message carries the end of its log.
        public static let startFailed = Code("startFailed")
        /// The server did not accept connections in time.
        public static let timeout = Code("timeout")
        /// `CREATE DATABASE` or a template's preparation failed.
        public static let databaseCreationFailed = Code("databaseCreationFailed")
        /// A system call (temporary directory, process creation, user lookup) failed.
        public static let system = Code("system")

        public var description: String { name }
    }

    public var code: Code
    /// What happened and what to do about it, for a person.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
