import Foundation
import LocalPostgres
import TestSupport
import Testing

/// A cluster reached the production way, over TCP with `sslmode=verify-full`: a certificate
/// authority made for the run, a server certificate for ``serverName`` signed by it, and a second,
/// unrelated authority for the refusals.
struct TLSCluster {
    static let serverName = "db.eticket.test"

    let cluster: LocalCluster
    let authority: TestCertificateAuthority
    let strangerAuthority: TestCertificateAuthority

    /// Starts a cluster listening on `addresses` (which must exist) for clients of `clientNetworks`.
    static func start(
        addresses: [String], clientNetworks: [String], port: Int? = nil, extraSettings: [String: String] = [:]
    ) throws -> TLSCluster {
        let directory = TestFiles.directory.appendingPathComponent("tls-\(UUID().uuidString)").path
        let authority = try TestCertificateAuthority.make(in: directory + "/ca")
        let stranger = try TestCertificateAuthority.make(in: directory + "/stranger", name: "eticket stranger CA")
        let certificate = try authority.issueServerCertificate(names: [serverName], addresses: addresses, file: "server")
        let network = LocalCluster.NetworkListener(
            addresses: addresses, port: try port ?? LocalCluster.freePort(), certificate: certificate,
            clientNetworks: clientNetworks)
        let cluster = try LocalCluster.start(options: .init(fastUnsafe: true, extraSettings: extraSettings, network: network))
        return TLSCluster(cluster: cluster, authority: authority, strangerAuthority: stranger)
    }

    /// The conninfo of a client at `address` that checks the server's certificate against our authority.
    func conninfo(address: String, host: String = serverName, rootCertificate: String? = nil) -> String {
        cluster.tlsConnectionString(host: host, address: address, rootCertificate: rootCertificate ?? authority.certificatePath)
    }
}

/// A worker host: a network namespace of this test run, joined to the root namespace by a veth
/// pair on a /30 of 10.213.0.0/16, the server's end in the root namespace.
///
/// Names are unique per run (`etknet-<pid>-<letter>`); ``remove()`` deletes the namespace and the
/// link, and namespaces left by a run that crashed (their pid gone) are swept at the next run.
final class NamespaceHost {
    let namespace: String
    let serverInterface: String
    let hostInterface: String
    let serverAddress: String
    let hostAddress: String
    let clientNetwork: String
    private var removed = false

    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why this machine cannot run namespace tests, or `nil` when it can: root, `ip` and the
    /// kernel's permission to create a network namespace are needed.
    static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "needs root to create network namespaces (ip netns); run as root, as CI does" }
        guard ip != nil else { return "needs the ip command (apt-get install iproute2)" }
        let probe = "etknet-\(getpid())-probe"
        let added = try? run(["netns", "add", probe])
        _ = try? run(["netns", "delete", probe])
        if let added, added.status != 0 {
            return "cannot create a network namespace here: \(added.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
        return added == nil ? "cannot run ip netns add" : nil
    }

    /// Creates hosts `a`, `b`, … on a /24 of 10.213.0.0/16 that no route of the machine uses.
    static func make(count: Int) throws -> [NamespaceHost] {
        sweepLeftovers()
        let routes = try run(["-4", "-o", "route", "show", "table", "all"]).stdout
        guard let subnet = (0..<256).shuffled().first(where: { !routes.contains("10.213.\($0).") }) else {
            throw NamespaceError("every 10.213.x.0/24 is in use on this machine")
        }
        var hosts: [NamespaceHost] = []
        do {
            for index in 0..<count { hosts.append(try NamespaceHost(index: index, subnet: subnet)) }
        } catch {
            hosts.forEach { $0.remove() }
            throw error
        }
        return hosts
    }

    private init(index: Int, subnet: Int) throws {
        let letter = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index)))
        namespace = "etknet-\(getpid())-\(letter)"
        // Interface names hold 15 bytes at most.
        serverInterface = "etk\(getpid() % 100_000)\(letter)s"
        hostInterface = "etk\(getpid() % 100_000)\(letter)h"
        serverAddress = "10.213.\(subnet).\(index * 4 + 1)"
        hostAddress = "10.213.\(subnet).\(index * 4 + 2)"
        clientNetwork = "\(hostAddress)/32"
        try Self.succeed(["netns", "add", namespace])
        do {
            try Self.succeed(["link", "add", serverInterface, "type", "veth", "peer", "name", hostInterface, "netns", namespace])
            try Self.succeed(["addr", "add", "\(serverAddress)/30", "dev", serverInterface])
            try Self.succeed(["link", "set", serverInterface, "up"])
            try Self.succeed(["-n", namespace, "addr", "add", "\(hostAddress)/30", "dev", hostInterface])
            try Self.succeed(["-n", namespace, "link", "set", "lo", "up"])
            try Self.succeed(["-n", namespace, "link", "set", hostInterface, "up"])
        } catch {
            remove()
            throw error
        }
    }

    /// Starts `eticket arguments` inside the namespace (`ip netns exec` becomes the program).
    func eticket(_ arguments: [String]) throws -> Child {
        try Child(["netns", "exec", namespace, CLI.binary] + arguments, executable: Self.ip ?? "ip")
    }

    /// Runs `command` inside the namespace to the end.
    func run(_ command: [String]) throws -> CLI.Result {
        try Self.run(["netns", "exec", namespace] + command)
    }

    /// Cuts the host off as a pulled cable does: its end of the link goes down, and the server's end
    /// loses its carrier and drops what it would send there, silently. Nothing tells the server.
    func cut() throws {
        try Self.succeed(["-n", namespace, "link", "set", hostInterface, "down"])
    }

    /// Plugs the cable back in.
    func reconnect() throws {
        try Self.succeed(["-n", namespace, "link", "set", hostInterface, "up"])
    }

    /// Deletes the link and the namespace. Calling it again does nothing.
    func remove() {
        guard !removed else { return }
        removed = true
        _ = try? Self.run(["link", "delete", serverInterface])
        _ = try? Self.run(["netns", "delete", namespace])
    }

    deinit { remove() }

    /// Deletes the namespaces of earlier runs whose process is gone (a crash skips the defers).
    private static func sweepLeftovers() {
        guard let list = try? run(["netns", "list"]).stdout else { return }
        for line in list.split(separator: "\n") {
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            let parts = name.split(separator: "-")
            guard parts.count == 3, parts[0] == "etknet", let pid = pid_t(parts[1]), pid != getpid(), kill(pid, 0) != 0
            else { continue }
            _ = try? run(["netns", "delete", name])
        }
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> CLI.Result {
        let child = try Child(arguments, executable: ip ?? "ip")
        return child.wait(timeout: 30)
    }

    private static func succeed(_ arguments: [String]) throws {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw NamespaceError("ip \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
    }
}

struct NamespaceError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
