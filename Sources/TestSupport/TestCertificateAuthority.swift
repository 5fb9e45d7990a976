import Foundation
import LocalPostgres

/// A certificate authority made for one test run with the `openssl` command, and the server
/// certificates it signs: what `sslmode=verify-full` checks, without any real authority.
///
/// Keys are P-256, files 0600, valid for two days from their making.
public struct TestCertificateAuthority: Sendable {
    /// The directory holding the authority's files and the certificates it issued.
    public let directory: String
    /// The authority's certificate, for a client's `sslrootcert`.
    public var certificatePath: String { directory + "/ca.crt" }
    private var keyPath: String { directory + "/ca.key" }
    private let openssl: String

    /// Makes a new authority in `directory` (created if missing).
    ///
    /// - Parameter name: the authority's common name; two authorities of one run differ by it.
    /// - Throws: ``LocalPostgresError`` `notInstalled` without `openssl`, `system` when it fails.
    public static func make(in directory: String, name: String = "eticket test CA") throws(LocalPostgresError)
        -> TestCertificateAuthority
    {
        let openssl = try locateOpenSSL()
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw LocalPostgresError(code: .system, message: "could not create \(directory): \(error)")
        }
        let authority = TestCertificateAuthority(directory: directory, openssl: openssl)
        let configuration = try authority.writeConfiguration(
            "ca",
            """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = \(name)
            [extensions]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            """)
        try authority.run([
            "req", "-x509", "-config", configuration, "-extensions", "extensions", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", authority.keyPath,
            "-out", authority.certificatePath, "-days", "2",
        ])
        try authority.restrict(authority.keyPath)
        return authority
    }

    /// Issues a server certificate for `names` (DNS) and `addresses` (IP), the first name as its
    /// common name.
    ///
    /// - Parameter file: the base name of the certificate (`.crt`) and key (`.key`) files.
    /// - Throws: ``LocalPostgresError`` `system` when `openssl` fails.
    public func issueServerCertificate(names: [String], addresses: [String] = [], file: String) throws(LocalPostgresError)
        -> ServerCertificate
    {
        let alternatives = (names.map { "DNS:\($0)" } + addresses.map { "IP:\($0)" }).joined(separator: ", ")
        let configuration = try writeConfiguration(
            file,
            """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = \(names.first ?? addresses.first ?? "server")
            [extensions]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = \(alternatives)
            """)
        let certificate = ServerCertificate(certificatePath: "\(directory)/\(file).crt", keyPath: "\(directory)/\(file).key")
        let request = "\(directory)/\(file).csr"
        try run([
            "req", "-new", "-config", configuration, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", certificate.keyPath, "-out", request,
        ])
        try restrict(certificate.keyPath)
        try run([
            "x509", "-req", "-in", request, "-CA", certificatePath, "-CAkey", keyPath,
            "-set_serial", "\(UInt32.random(in: 1...UInt32.max))", "-days", "2",
            "-extfile", configuration, "-extensions", "extensions", "-out", certificate.certificatePath,
        ])
        return certificate
    }

    private func writeConfiguration(_ name: String, _ text: String) throws(LocalPostgresError) -> String {
        let path = "\(directory)/\(name).cnf"
        do {
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw LocalPostgresError(code: .system, message: "could not write \(path): \(error)")
        }
        return path
    }

    private func restrict(_ path: String) throws(LocalPostgresError) {
        guard chmod(path, 0o600) == 0 else {
            throw LocalPostgresError(code: .system, message: "could not make \(path) 0600: \(String(cString: strerror(errno)))")
        }
    }

    private func run(_ arguments: [String]) throws(LocalPostgresError) {
        let log = directory + "/openssl.log"
        let status = try ChildProcess.spawn(openssl, arguments, logPath: log).waitForExit()
        guard status == 0 else {
            throw LocalPostgresError(
                code: .system, message: "openssl \(arguments.first ?? "") failed with status \(status): \(tail(of: log))")
        }
    }

    private static func locateOpenSSL() throws(LocalPostgresError) -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let openssl = (path.split(separator: ":").map { "\($0)/openssl" } + ["/usr/bin/openssl"])
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw LocalPostgresError(
                code: .notInstalled, message: "the openssl command is not installed: apt-get install openssl")
        }
        return openssl
    }
}
