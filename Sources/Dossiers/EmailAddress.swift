/// The one rule for an email address the product accepts, shared by the import (the contracts'
/// `format: email`) and the mail composer: an address the import lets in is one the composer can
/// put in a `To:` header, so a family's address is refused at import, with its line and path,
/// rather than retried and parked by the worker.
///
/// RFC 5321 `Mailbox` with a dot-atom local part and a host name: ASCII only (the header encoder
/// writes addresses as they are, with no SMTPUTF8), no spaces, quotes, control characters or CR/LF.
public enum EmailAddress {
    /// RFC 5321 §4.5.3.1: a path is at most 256 octets with its angle brackets.
    static let maximumLength = 254
    static let maximumLocalPartLength = 64
    static let maximumLabelLength = 63

    /// Whether `text` is `local@domain` as described above.
    public static func isDeliverable(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumLength, let at = bytes.firstIndex(of: UInt8(ascii: "@")) else { return false }
        return isDotAtom(bytes[..<at]) && isHostName(bytes[(at + 1)...])
    }

    /// `atext` runs joined by single dots, at most 64 octets.
    private static func isDotAtom(_ local: ArraySlice<UInt8>) -> Bool {
        guard local.count <= maximumLocalPartLength else { return false }
        let atoms = local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return atoms.allSatisfy { !$0.isEmpty && $0.allSatisfy(isAtomText) }
    }

    /// Dot-separated labels of letters, digits and inner hyphens, each 1 to 63 octets.
    private static func isHostName(_ domain: ArraySlice<UInt8>) -> Bool {
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            (1...maximumLabelLength).contains(label.count) && label.first != UInt8(ascii: "-")
                && label.last != UInt8(ascii: "-") && label.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    /// RFC 5322 `atext`: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    private static func isAtomText(_ byte: UInt8) -> Bool {
        isLetterOrDigit(byte) || "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
    }
}
