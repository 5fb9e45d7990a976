internal import CLibPQ

/// What the connection is to, as libpq negotiated it: for `eticket doctor`.
public struct SessionDescription: Sendable, Equatable {
    /// The host or the Unix socket's directory.
    public var host: String
    public var port: String
    public var database: String
    public var user: String
    /// The TLS protocol (`TLSv1.3`) and cipher in use, or `nil` when the connection is not encrypted.
    public var tls: (protocol: String, cipher: String)?
    /// The `sslmode` libpq connected with (`prefer` unless the URL or `PGSSLMODE` said otherwise).
    public var sslMode: String
    /// Whether `host` is a Unix socket's directory (never encrypted, never leaves the machine).
    public var isUnixSocket: Bool { host.hasPrefix("/") || host.hasPrefix("@") }

    public static func == (a: Self, b: Self) -> Bool {
        a.host == b.host && a.port == b.port && a.database == b.database && a.user == b.user
            && a.tls?.protocol == b.tls?.protocol && a.tls?.cipher == b.tls?.cipher && a.sslMode == b.sslMode
    }
}

extension Connection {
    /// Where this connection goes and whether TLS protects it (libpq's `PQsslInUse` and
    /// `PQsslAttribute`); `nil` once closed.
    public var session: SessionDescription? {
        guard let handle else { return nil }
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        var tls: (String, String)?
        if PQsslInUse(handle) == 1 {
            let attribute = { (name: String) in PQsslAttribute(handle, name).map { String(cString: $0) } ?? "?" }
            tls = (attribute("protocol"), attribute("cipher"))
        }
        return SessionDescription(
            host: text(PQhost(handle)), port: text(PQport(handle)), database: text(PQdb(handle)),
            user: text(PQuser(handle)), tls: tls, sslMode: option("sslmode", of: handle) ?? "prefer")
    }

    /// One connection option as libpq resolved it (`PQconninfo`).
    private func option(_ keyword: String, of handle: OpaquePointer) -> String? {
        guard let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var index = 0
        while let name = options[index].keyword {
            if String(cString: name) == keyword { return options[index].val.map { String(cString: $0) } }
            index += 1
        }
        return nil
    }
}
