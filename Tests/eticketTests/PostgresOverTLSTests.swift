import Foundation
import Postgres
import TestSupport
import Testing

/// The database reached as in production: TCP, `sslmode=verify-full`, a server that admits TLS
/// only. What an attacker on the path could try is refused, and each refusal says what to fix.
@Suite("PostgreSQL over TLS", .tags(.e2e))
struct PostgresOverTLSTests {
    static let loopback = "127.0.0.1"

    @Test func verifyFullConnectsAndTheSessionIsEncrypted() throws {
        let tls = try TLSCluster.start(addresses: [Self.loopback], clientNetworks: ["\(Self.loopback)/32"])
        defer { tls.cluster.stop() }
        let conninfo = tls.conninfo(address: Self.loopback)
        try CLI.succeed(["db", "migrate"], database: conninfo)
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let row = try #require(try connection.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first)
        #expect(try row.decode(Bool.self, "ssl"))
        #expect(try row.decode(String.self, "version").hasPrefix("TLSv1."))
        // The server's key is readable by the server's user alone (as root: postgres).
        let key = try FileManager.default.attributesOfItem(atPath: tls.cluster.directory + "/data/server.key")
        #expect((key[.posixPermissions] as? Int) == 0o600)
        if geteuid() == 0 { #expect((key[.ownerAccountName] as? String) == "postgres") }
    }

    /// A server that proves it is `db.eticket.test` is not accepted as another host: the name the
    /// client asked for must be in the certificate.
    @Test func aCertificateForAnotherNameIsRefused() throws {
        let tls = try TLSCluster.start(addresses: [Self.loopback], clientNetworks: ["\(Self.loopback)/32"])
        defer { tls.cluster.stop() }
        let result = try CLI.run([
            "db", "status", "--database-url", tls.conninfo(address: Self.loopback, host: "payroll.eticket.test"),
        ])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("server certificate for \"db.eticket.test\""), "\(result.stderr)")
        #expect(result.stderr.contains("does not match host name \"payroll.eticket.test\""), "\(result.stderr)")
        #expect(result.stderr.contains("set host to a name the certificate holds"), "\(result.stderr)")
    }

    /// A certificate signed by an authority the client does not trust (a server impersonated with
    /// a certificate of its own making) is refused.
    @Test func aCertificateOfAnotherAuthorityIsRefused() throws {
        let tls = try TLSCluster.start(addresses: [Self.loopback], clientNetworks: ["\(Self.loopback)/32"])
        defer { tls.cluster.stop() }
        let conninfo = tls.conninfo(address: Self.loopback, rootCertificate: tls.strangerAuthority.certificatePath)
        let result = try CLI.run(["db", "status", "--database-url", conninfo])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("certificate verify failed"), "\(result.stderr)")
        #expect(result.stderr.contains("set sslrootcert to the CA certificate that signed the server's"), "\(result.stderr)")
    }

    /// The server admits TCP clients over TLS only (`hostssl`): a client that does not ask for
    /// TLS is refused by the server itself.
    @Test func aClientWithoutTLSIsRefusedByTheServer() throws {
        let tls = try TLSCluster.start(addresses: [Self.loopback], clientNetworks: ["\(Self.loopback)/32"])
        defer { tls.cluster.stop() }
        let conninfo = "host=\(Self.loopback) port=\(tls.cluster.port) user=postgres dbname=postgres sslmode=disable"
        let result = try CLI.run(["db", "status", "--database-url", conninfo])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("no encryption"), "\(result.stderr)")
    }
}

extension PostgresOverTLSTests {
    /// An attacker on the path answers the client's TLS request with "no" (`N`), hoping it goes on
    /// in clear. With `verify-full` the client hangs up: it never sends its startup message, so not
    /// even the user and database names cross the wire.
    @Test func aServerRefusingTLSGetsNothingInClear() throws {
        let authority = try TestCertificateAuthority.make(
            in: TestFiles.directory.appendingPathComponent("ca-\(UUID().uuidString)").path)
        let listener = try DowngradingListener()
        let conninfo =
            "host=db.eticket.test hostaddr=\(Self.loopback) port=\(listener.port) user=secret_user dbname=secret_db "
            + "sslmode=verify-full sslrootcert=\(authority.certificatePath)"
        let result = try CLI.run(["db", "status", "--database-url", conninfo])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("server does not support SSL, but SSL was required"), "\(result.stderr)")
        let received = listener.received()
        // Only requests for encryption: 8 bytes each, length 8 then the request code 1234/5679 or 1234/5680.
        let requests = stride(from: 0, to: received.count, by: 8).map { Array(received[$0..<min($0 + 8, received.count)]) }
        #expect(
            !requests.isEmpty && requests.allSatisfy { $0.count == 8 && $0[0..<6] == [0, 0, 0, 8, 0x04, 0xD2] },
            "the client sent more than its requests for encryption: \(received.count) bytes")
        #expect(!String(decoding: received, as: UTF8.self).contains("secret"))
    }
}

/// A TCP listener on 127.0.0.1 that plays a server refusing TLS: it reads what the first client
/// sends, answers `N` to its first two 8-byte requests (SSLRequest, GSSENCRequest), and records everything until the client
/// hangs up.
private final class DowngradingListener: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32
    private let done = DispatchSemaphore(value: 0)
    private var bytes: [UInt8] = []

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 1) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard listening else {
            close(descriptor)
            throw NamespaceError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    private func serve() {
        defer { done.signal() }
        let client = accept(descriptor, nil, nil)
        close(descriptor)
        guard client >= 0 else { return }
        defer { close(client) }
        var answered = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { return }
            bytes += buffer[0..<count]
            // 8 bytes a request; a client holding Kerberos credentials asks for GSSAPI first.
            while answered < 2, bytes.count >= (answered + 1) * 8 {
                answered += 1
                _ = write(client, "N", 1)
            }
        }
    }

    /// What the client sent, once it hung up (within 30 s).
    func received() -> [UInt8] {
        _ = done.wait(timeout: .now() + 30)
        return bytes
    }
}
