internal import CLibCurl

/// The mail relay as an operator checks it: `eticket doctor` calls ``probe(_:)``.
public enum MailRelay {
    /// Connects to the relay and runs the session's setup without sending anything: TCP, TLS
    /// (implicit or STARTTLS), the greeting, EHLO and AUTH when credentials are configured; then QUIT.
    ///
    /// - Returns: the steps in order, each passed or failed with what the relay or the library
    ///   said; the first failed step is the last. Settings or a credentials file that cannot be
    ///   used give one failed `configuration` step.
    public static func probe(_ settings: RelaySettings) -> [ProbeStep] {
        let session: SMTPSession
        do {
            session = try SMTPSession(settings)
        } catch {
            return [ProbeStep(name: "configuration", passed: false, detail: error.message)]
        }
        let (code, transcript, detail) = session.connectOnly()
        var steps: [ProbeStep] = []
        steps.append(
            ProbeStep(
                name: "connect", passed: transcript.connected,
                detail: transcript.connected ? "TCP connection to \(settings.address)" : detail))
        if settings.security == .tls, transcript.connected {
            steps.append(tlsStep(transcript, passed: transcript.tlsDescription != nil, detail: detail))
        }
        for exchange in transcript.exchanges {
            let name = exchange.verb ?? "greeting"
            let passed = exchange.reply?.isPositive ?? false
            let text = exchange.reply.map(\.description) ?? "no reply (\(detail))"
            steps.append(ProbeStep(name: name, passed: passed, detail: text))
            if name == "STARTTLS", passed {
                steps.append(tlsStep(transcript, passed: transcript.tlsDescription != nil, detail: detail))
            }
        }
        if code != CURLE_OK, steps.allSatisfy(\.passed) {
            steps.append(ProbeStep(name: "session", passed: false, detail: session.setupError(code, transcript).message))
        }
        if code == CURLE_OK, settings.credentialsFile == nil {
            steps.append(ProbeStep(name: "AUTH", passed: true, detail: "not configured (no smtp.credentialsFile)"))
        }
        return steps
    }

    private static func tlsStep(_ transcript: SMTPTranscript, passed: Bool, detail: String) -> ProbeStep {
        ProbeStep(
            name: "TLS", passed: passed,
            detail: passed
                ? "\(transcript.tlsDescription ?? "")\(transcript.certificateVerified ? ", certificate verified" : "")"
                : detail)
    }
}

/// One step of ``MailRelay/probe(_:)``.
public struct ProbeStep: Sendable, Equatable, Codable {
    /// `configuration`, `connect`, `TLS`, `greeting`, `EHLO`, `STARTTLS`, `AUTH` or `session`.
    public var name: String
    public var passed: Bool
    /// What the relay replied, or why the step failed.
    public var detail: String
}
