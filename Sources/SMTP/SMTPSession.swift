internal import CLibCurl
import Foundation

/// What became of one message handed to the relay.
public enum SMTPOutcome: Sendable, Equatable {
    /// The relay took responsibility for it: its reply to the end of DATA.
    case accepted(SMTPReply)
    /// A 4xx reply, or the connection lost or silent before the relay's answer: try again later.
    /// `reply` is the relay's when it gave one; `reason` says what happened, for the outbox.
    case deferred(reason: String, reply: SMTPReply?)
    /// A 5xx reply to MAIL, RCPT or DATA: the relay will never take it.
    case rejected(SMTPReply)
}

/// One connection to the mail relay, kept open from message to message (libcurl's SMTP).
///
/// Not thread-safe: one session per thread. Each ``send(from:to:message:)`` reuses the open
/// connection (MAIL, RCPT, DATA) or opens a new one (connect, TLS, greeting, EHLO, STARTTLS,
/// AUTH). Every step has a timeout: ``RelaySettings/connectTimeout`` for the connection's setup,
/// ``RelaySettings/commandTimeout`` for each reply and for any stall while the message is sent.
public final class SMTPSession {
    public let settings: RelaySettings
    private var handle: UnsafeMutableRawPointer
    private let credentials: RelayCredentials?
    private let context = CallbackContext()
    /// libcurl writes a failure's detail here; it must not move, so it is not a Swift array.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(ETICKET_CURL_ERROR_SIZE) + 1)

    /// Prepares the session (the connection opens with the first message).
    ///
    /// - Throws: ``SMTPError`` `.configuration` for settings ``RelaySettings/validate()`` refuses
    ///   or an unusable credentials file.
    public init(_ settings: RelaySettings) throws(SMTPError) {
        try settings.validate()
        guard Self.libraryReady, let handle = curl_easy_init() else {
            throw SMTPError(.unreachable, "libcurl could not be initialised")
        }
        self.settings = settings
        self.handle = handle
        credentials = try settings.credentialsFile.map { path throws(SMTPError) in try RelayCredentials.load(path) }
        configure(credentials)
    }

    /// Closes the connection for good and starts the next message on a new one: after a failed
    /// exchange, libcurl may keep a connection whose relay is still busy with the last command
    /// (a silent relay answers the next MAIL with nothing), so the session never reuses it.
    private func reopen() {
        curl_easy_cleanup(handle)
        if let fresh = curl_easy_init() {
            handle = fresh
            configure(credentials)
        }
    }

    deinit {
        curl_easy_cleanup(handle) // QUIT, then close
        errorBuffer.deallocate()
    }

    private static let libraryReady: Bool = curl_global_init(ETICKET_CURL_GLOBAL_DEFAULT) == CURLE_OK

    private func configure(_ credentials: RelayCredentials?) {
        let timeout = settings.commandTimeout
        set(CURLOPT_URL, settings.url)
        set(CURLOPT_NOSIGNAL, 1) // threads; SIGPIPE is ignored by the caller
        set(CURLOPT_USE_SSL, Int(settings.security == .none ? CURLUSESSL_NONE.rawValue : CURLUSESSL_ALL.rawValue))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = settings.caFile { set(CURLOPT_CAINFO, caFile) }
        set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout.milliseconds))
        set(CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int((timeout.milliseconds + 999) / 1000)))
        // DATA: at least a byte a second over the command timeout, or the relay is stalled.
        set(CURLOPT_LOW_SPEED_LIMIT, 1)
        set(CURLOPT_LOW_SPEED_TIME, max(1, Int((timeout.milliseconds + 999) / 1000)))
        set(CURLOPT_UPLOAD, 1)
        set(CURLOPT_SASL_IR, 1)
        if let credentials {
            set(CURLOPT_USERNAME, credentials.username)
            set(CURLOPT_PASSWORD, credentials.password)
            if let mechanism = settings.authMechanism { set(CURLOPT_LOGIN_OPTIONS, "AUTH=\(mechanism.rawValue)") }
        }
        set(CURLOPT_VERBOSE, 1) // to the debug function below, which keeps replies, never credentials
        eticket_curl_set_pointer(handle, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(context).toOpaque())
        eticket_curl_set_debug_function(
            handle,
            { _, type, data, size, user in
                guard let user, let data else { return 0 }
                let context = Unmanaged<CallbackContext>.fromOpaque(user).takeUnretainedValue()
                switch type {
                case CURLINFO_HEADER_IN:
                    context.transcript.received(String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self))
                case CURLINFO_HEADER_OUT:
                    context.transcript.commandSent(
                        String(decoding: UnsafeRawBufferPointer(start: data, count: min(size, 16)), as: UTF8.self))
                case CURLINFO_TEXT:
                    context.transcript.information(
                        String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self))
                case CURLINFO_DATA_OUT:
                    context.transcript.bodySent()
                default:
                    break
                }
                return 0
            })
        eticket_curl_set_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(context).toOpaque())
        eticket_curl_set_read_function(
            handle,
            { buffer, size, count, user in
                guard let user, let buffer else { return 0 }
                let context = Unmanaged<CallbackContext>.fromOpaque(user).takeUnretainedValue()
                let length = min(size * count, context.upload.count - context.offset)
                context.upload.withUnsafeBytes { bytes in
                    UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + context.offset, byteCount: length)
                }
                context.offset += length
                return length
            })
        errorBuffer[0] = 0
        eticket_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
    }

    /// Hands one message to the relay: MAIL FROM, RCPT TO, DATA, on the open connection or a new one.
    ///
    /// - Parameters:
    ///   - from: the message's sender address; ``RelaySettings/envelopeFrom`` wins when set.
    ///   - to: the one recipient.
    ///   - message: the complete message, CRLF line endings (libcurl escapes leading dots).
    /// - Returns: the relay's verdict on this message; `.rejected` without offering it for an
    ///   envelope or message that must not reach the wire, or a message above
    ///   ``RelaySettings/maxMessageBytes``.
    /// - Throws: ``SMTPError`` when the session could not be set up (connect, TLS, greeting, EHLO,
    ///   STARTTLS, AUTH): the relay is unusable and the message was not offered.
    public func send(from: String, to: String, message: [UInt8]) throws(SMTPError) -> SMTPOutcome {
        let sender = settings.envelopeFrom ?? from
        if let problem = Self.envelopeProblem(sender, "sender") ?? Self.envelopeProblem(to, "recipient") {
            return .rejected(SMTPReply(code: 501, lines: ["5.1.3 not offered to the relay: \(problem)"]))
        }
        if message.count > settings.maxMessageBytes {
            return .rejected(
                SMTPReply(
                    code: 552,
                    lines: [
                        "5.3.4 not offered to the relay: the message is \(message.count) bytes, above smtp.maxMessageBytes "
                            + "(\(settings.maxMessageBytes))"
                    ]))
        }
        if let problem = Self.messageProblem(message) {
            return .rejected(SMTPReply(code: 554, lines: ["5.6.0 not offered to the relay: \(problem)"]))
        }
        context.transcript.reset()
        context.upload = message
        context.offset = 0
        errorBuffer[0] = 0
        set(CURLOPT_MAIL_FROM, "<\(sender)>")
        let recipients = curl_slist_append(nil, "<\(to)>")
        defer { curl_slist_free_all(recipients) }
        eticket_curl_set_list(handle, CURLOPT_MAIL_RCPT, recipients)
        set(CURLOPT_INFILESIZE_LARGE, message.count)
        // A whole message may take the setup, a reply per command and the DATA stall limit.
        set(CURLOPT_TIMEOUT_MS, Int(settings.connectTimeout.milliseconds + 6 * settings.commandTimeout.milliseconds))
        let code = curl_easy_perform(handle)
        eticket_curl_set_list(handle, CURLOPT_MAIL_RCPT, nil)
        let transcript = context.transcript
        if code == CURLE_OK {
            return .accepted(transcript.last?.reply ?? SMTPReply(code: 250, lines: ["accepted"]))
        }
        defer { reopen() }
        guard transcript.reachedTransaction else { throw setupFailure(code, transcript) }
        let step = transcript.last?.verb.map { $0 == "DATA" && transcript.sentBody ? "the end of DATA" : $0 } ?? "the transaction"
        if let reply = transcript.last?.reply, !reply.isPositive {
            if reply.code == 530 {
                // "Authentication required": the session's fault, not the message's.
                throw SMTPError(
                    .refused, "mail relay \(settings.address) requires authentication (\(reply)): set smtp.credentialsFile")
            }
            if reply.isPermanent { return .rejected(reply) }
            return .deferred(reason: "\(step): \(reply)", reply: reply)
        }
        // No verdict: the connection broke or the relay went silent; the relay may or may not
        // have the message, and it is offered again later (with the same Message-ID).
        let silence = code == CURLE_OPERATION_TIMEDOUT ? "no reply within the timeout" : "connection lost"
        return .deferred(reason: "\(step): \(silence) (\(detail(code)))", reply: nil)
    }

    /// Why `address` cannot go in MAIL FROM or RCPT TO as it is, or `nil`. libcurl sends the
    /// address verbatim: a CR or LF would end the command and start one of the writer's own (a
    /// second recipient, a second message), and a space or `>` would add parameters. Whoever
    /// may write the outbox (a worker's database login) writes these columns, so they are checked
    /// here, the last step before the wire. Never quotes the address (the outbox keeps it).
    static func envelopeProblem(_ address: String, _ role: String) -> String? {
        let bytes = Array(address.utf8)
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }) else {
            return "the \(role) address has a control character, a space, an angle bracket or a non-ASCII character"
        }
        guard bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1, bytes.first != UInt8(ascii: "@"),
            bytes.last != UInt8(ascii: "@")
        else { return "the \(role) address is not local@domain" }
        return nil
    }

    /// Why `message` cannot be handed to DATA, or `nil`. libcurl escapes a dot only after CRLF:
    /// a bare LF or CR (or a NUL) is a line end or an end of DATA to some relays (SMTP
    /// smuggling). eticket's messages are CRLF throughout, so such bytes were written by hand.
    static func messageProblem(_ message: [UInt8]) -> String? {
        var index = 0
        while index < message.count {
            switch message[index] {
            case 0: return "the message has a NUL byte"
            case UInt8(ascii: "\r"):
                guard index + 1 < message.count, message[index + 1] == UInt8(ascii: "\n") else {
                    return "the message has a CR not followed by LF"
                }
                index += 1
            case UInt8(ascii: "\n"): return "the message has an LF not preceded by CR"
            default: break
            }
            index += 1
        }
        return nil
    }

    private func setupFailure(_ code: CURLcode, _ transcript: SMTPTranscript) -> SMTPError {
        let relay = settings.address
        if let last = transcript.last, let reply = last.reply, !reply.isPositive {
            let step = last.verb ?? "greeting"
            let hint =
                step == "AUTH" ? ": check the user name and password of smtp.credentialsFile" : ""
            return SMTPError(.refused, "mail relay \(relay) refused \(step): \(reply)\(hint)")
        }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            return SMTPError(.unreachable, "mail relay \(relay): unknown host (\(detail(code))): check smtp.host")
        case CURLE_COULDNT_CONNECT:
            return SMTPError(.unreachable, "mail relay \(relay): cannot connect (\(detail(code))): check smtp.host and smtp.port")
        case CURLE_USE_SSL_FAILED:
            return SMTPError(
                .refused, "mail relay \(relay) does not offer STARTTLS: use smtp.tls tls for port 465, or another relay")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            return SMTPError(
                .unreachable,
                "mail relay \(relay): its TLS certificate cannot be trusted (\(detail(code))): check smtp.caFile and smtp.host")
        case CURLE_SSL_CONNECT_ERROR:
            return SMTPError(
                .unreachable, "mail relay \(relay): TLS handshake failed (\(detail(code))): check smtp.tls and smtp.port")
        case CURLE_LOGIN_DENIED:
            return SMTPError(.refused, "mail relay \(relay) refused AUTH (\(detail(code))): check smtp.credentialsFile")
        case CURLE_OPERATION_TIMEDOUT:
            let step = transcript.last?.verb ?? (transcript.connected ? "the greeting" : "the connection")
            return SMTPError(.unreachable, "mail relay \(relay): timed out waiting for \(step) (\(detail(code)))")
        default:
            let step = transcript.last?.verb ?? (transcript.connected ? "the greeting" : "the connection")
            return SMTPError(.unreachable, "mail relay \(relay): failed at \(step) (\(detail(code)))")
        }
    }

    /// libcurl's explanation of `code`, with the detail its error buffer holds.
    private func detail(_ code: CURLcode) -> String {
        let buffered = String(cString: errorBuffer)
        return buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
    }

    /// Opens the connection and runs its setup only (greeting, EHLO, STARTTLS, AUTH), for a probe.
    func connectOnly() -> (CURLcode, SMTPTranscript, String) {
        context.transcript.reset()
        errorBuffer[0] = 0
        set(CURLOPT_CONNECT_ONLY, 1)
        set(CURLOPT_TIMEOUT_MS, Int(settings.connectTimeout.milliseconds + settings.commandTimeout.milliseconds))
        let code = curl_easy_perform(handle)
        set(CURLOPT_CONNECT_ONLY, 0)
        return (code, context.transcript, code == CURLE_OK ? "" : detail(code))
    }

    func setupError(_ code: CURLcode, _ transcript: SMTPTranscript) -> SMTPError { setupFailure(code, transcript) }

    @discardableResult
    private func set(_ option: CURLoption, _ value: Int) -> CURLcode { eticket_curl_set_long(handle, option, value) }

    @discardableResult
    private func set(_ option: CURLoption, _ value: String) -> CURLcode { eticket_curl_set_string(handle, option, value) }
}

/// What libcurl's callbacks read and write, owned by the session.
private final class CallbackContext {
    var transcript = SMTPTranscript()
    var upload: [UInt8] = []
    var offset = 0
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
