import Foundation
import Postgres

extension RunAs {
    /// Gets a new cluster's data directory ready for ``LocalCluster/NetworkListener``: the
    /// certificate and key where the server looks by default (`server.crt`, `server.key`), owned
    /// by the server's user, the key 0600 (the server refuses a key anyone else can read), and a
    /// `pg_hba.conf` that admits the unix socket and TLS from the client networks, nothing else.
    func configureTLS(_ network: LocalCluster.NetworkListener, dataDirectory: String) throws(LocalPostgresError) {
        let certificate: Data
        let key: Data
        do {
            certificate = try Data(contentsOf: URL(fileURLWithPath: network.certificate.certificatePath))
            key = try Data(contentsOf: URL(fileURLWithPath: network.certificate.keyPath))
        } catch {
            throw LocalPostgresError(code: .system, message: "could not read the server certificate or key: \(error)")
        }
        // trust: these clusters are throw-away; what they show is that nothing but TLS gets in.
        let rules = ["local all all trust"] + network.clientNetworks.map { "hostssl all all \($0) trust" }
        try write(certificate, to: dataDirectory + "/server.crt")
        try write(key, to: dataDirectory + "/server.key")
        try write(Data((rules.joined(separator: "\n") + "\n").utf8), to: dataDirectory + "/pg_hba.conf")
    }

    /// Writes a file 0600, owned by the server's user.
    private func write(_ data: Data, to path: String) throws(LocalPostgresError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LocalPostgresError(code: .system, message: "could not write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count, fchmod(descriptor, 0o600) == 0 else {
            throw LocalPostgresError(code: .system, message: "could not write \(path): \(String(cString: strerror(errno)))")
        }
        if let postgresUser, fchown(descriptor, postgresUser.uid, postgresUser.gid) != 0 {
            throw LocalPostgresError(
                code: .system, message: "could not give \(path) to the postgres user: \(String(cString: strerror(errno)))")
        }
    }
}

extension LocalCluster {
    /// A libpq conninfo reaching this cluster over TCP with `sslmode=verify-full`, as user `postgres`.
    ///
    /// - Parameters:
    ///   - host: the name libpq checks the server's certificate against.
    ///   - address: where that name is, given as `hostaddr` so that no name lookup happens.
    ///   - rootCertificate: the certificate authority the client trusts (`sslrootcert`).
    /// - Precondition: no argument holds NUL.
    public func tlsConnectionString(database: String = "postgres", host: String, address: String, rootCertificate: String)
        -> String
    {
        let settings = [
            ("host", host), ("hostaddr", address), ("port", "\(port)"), ("user", "postgres"), ("dbname", database),
            ("sslmode", "verify-full"), ("sslrootcert", rootCertificate),
        ]
        // swift-format-ignore: NeverUseForceTry
        return settings.map { "\($0.0)=\(try! quoteConninfoValue($0.1))" }.joined(separator: " ")
    }

    /// A TCP port no socket is bound to now, on any address: the kernel's pick for a port-0 bind.
    ///
    /// Another process could take it before the server binds it; a server then fails to start
    /// with "could not bind", which says so.
    public static func freePort() throws(LocalPostgresError) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw LocalPostgresError(code: .system, message: "could not open a socket: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else {
            throw LocalPostgresError(
                code: .system, message: "could not find a free TCP port: \(String(cString: strerror(errno)))")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
