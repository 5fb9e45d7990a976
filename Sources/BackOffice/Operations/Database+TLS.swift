/// What an operator does about a refused server certificate, which libpq reports in TLS terms only.
extension Database {
    /// Advice to append to libpq's reason when it refused the server's certificate; `nil` otherwise.
    static func certificateAdvice(for reason: String) -> String? {
        if reason.contains("certificate verify failed") {
            return "the server's certificate is not signed by a certificate authority in sslrootcert (or has expired):"
                + " set sslrootcert to the CA certificate that signed the server's"
        }
        if reason.contains("does not match host name") {
            return "the server's certificate does not hold the name in host: set host to a name the certificate holds"
                + " (with hostaddr for the address when that name does not resolve)"
        }
        return nil
    }
}
