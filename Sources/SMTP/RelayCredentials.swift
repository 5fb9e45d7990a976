import Foundation

/// The relay's user name and password, read from a file only its owner (and group) may read.
struct RelayCredentials {
    var username: String
    var password: String

    /// Reads `{"username": "…", "password": "…"}` from `path`.
    ///
    /// - Throws: ``SMTPError`` `.configuration` when the file is missing, a symbolic link, not a
    ///   regular file, owned by another user than root or this one, readable or writable by others
    ///   or writable by its group, or not that JSON object; never quoting the content.
    static func load(_ path: String) throws(SMTPError) -> RelayCredentials {
        // Never through a symbolic link: whoever may write the file's folder would otherwise choose
        // what is read as the password (and sent in AUTH). O_NONBLOCK: a FIFO does not wait for a
        // writer, it is refused below as not a regular file.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw SMTPError(
                    .configuration,
                    "smtp.credentialsFile \(path): is a symbolic link, not a regular file: refusing to read through it; "
                        + "give the real file's path")
            }
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): cannot be read: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The opened file's own mode, so that no rename between a check and the read slips by.
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): not a regular file")
        }
        // Root's or this user's only: another user who owns it may chmod it and read or choose the password.
        guard status.st_uid == 0 || status.st_uid == geteuid() else {
            throw SMTPError(
                .configuration,
                "smtp.credentialsFile \(path): owned by uid \(status.st_uid), not root nor this user (uid \(geteuid())): "
                    + "chown root:eticket (mode 0640) or chown it to the service user (mode 0600)")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o027 == 0 else {
            throw SMTPError(
                .configuration,
                "smtp.credentialsFile \(path): mode \(String(mode, radix: 8)) lets others read or change the relay's password: "
                    + "chmod 0600 (or 0640 for the service's group) and try again")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 {
                throw SMTPError(
                    .configuration, "smtp.credentialsFile \(path): cannot be read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > 65_536 { throw SMTPError(.configuration, "smtp.credentialsFile \(path): larger than 64 KiB") }
        }
        let form = "expected a JSON object {\"username\": \"…\", \"password\": \"…\"}"
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): not JSON: \(form)")
        }
        guard let username = object["username"] as? String, !username.isEmpty else {
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): $.username missing or not a non-empty string: \(form)")
        }
        guard let password = object["password"] as? String, !password.isEmpty else {
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): $.password missing or not a non-empty string: \(form)")
        }
        if let unknown = object.keys.first(where: { $0 != "username" && $0 != "password" }) {
            throw SMTPError(.configuration, "smtp.credentialsFile \(path): $.\(unknown): unknown key: \(form)")
        }
        return RelayCredentials(username: username, password: password)
    }
}
