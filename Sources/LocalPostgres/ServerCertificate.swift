/// A server certificate and its private key, as PEM files: what a `LocalCluster` listening on TCP
/// serves (the tests' certificate authority issues them).
public struct ServerCertificate: Sendable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}
