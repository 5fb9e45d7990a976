import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates a new private directory (mode 0700, a random name no one else can have made or
/// guessed beforehand) in the system's temporary directory, for the demo's and the benchmark's
/// files: a fixed or guessable name there could be made in advance by another user.
///
/// - Returns: its path; the caller removes it.
/// - Throws: ``BackOfficeError`` `.failure` when it cannot be created.
public func makePrivateTemporaryDirectory(prefix: String) throws -> String {
    let template = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-XXXXXX").path
    var bytes = Array(template.utf8CString)
    guard let made = mkdtemp(&bytes) else {
        throw BackOfficeError(.failure, "\(template): cannot create a temporary directory: \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}
