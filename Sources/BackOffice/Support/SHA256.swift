import CLibCrypto

/// SHA-256 (FIPS 180-4), by OpenSSL's libcrypto (which libpq and libcurl already load): of a
/// dossier line at import, of the content a worker judged, of a template set. The tests compare
/// it with PostgreSQL's `sha256()` and the standard's test vectors.
enum SHA256 {
    /// The 32 bytes of the digest of `message`.
    static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let hashed =
            message.withContiguousStorageIfAvailable { bytes in
                Self.digest(bytes, into: &digest)
            } ?? Array(message).withUnsafeBufferPointer { bytes in Self.digest(bytes, into: &digest) }
        // EVP_Digest fails only when libcrypto cannot allocate or has no SHA-256: nothing can go on.
        precondition(hashed, "libcrypto's SHA-256 failed")
        return digest
    }

    /// The digest of `message` in lowercase hexadecimal, as PostgreSQL's `encode(…, 'hex')` writes it.
    static func hex(_ message: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest(message).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
    }

    private static func digest(_ bytes: UnsafeBufferPointer<UInt8>, into digest: inout [UInt8]) -> Bool {
        digest.withUnsafeMutableBufferPointer { out in
            EVP_Digest(bytes.baseAddress, bytes.count, out.baseAddress, nil, EVP_sha256(), nil) == 1
        }
    }
}
