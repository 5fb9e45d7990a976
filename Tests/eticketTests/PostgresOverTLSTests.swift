import Foundation
import LocalPostgres
import Postgres
import Testing

/// The database reached as in production: TCP, `sslmode=verify-full`, a server that admits TLS
/// only. What an attacker on the path could try is refused, and each refusal says what to fix.
@Suite("PostgreSQL over TLS")
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
    }

    /// A server that proves it is `db.eticket.test` is not accepted as another host: the name the
    /// client asked for must be in the certificate.
    @Test func aCertificateForAnotherNameIsRefused() throws {
        let tls = try TLSCluster.start(addresses: [Self.loopback], clientNetworks: ["\(Self.loopback)/32"])
        defer { tls.cluster.stop() }
        let result = try CLI.run(["db", "status", "--database-url", tls.conninfo(address: Self.loopback, host: "payroll.eticket.test")])
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
