import BackOffice
import Configuration
import SMTP

/// The `smtp` section: the mail relay and how to send to it.
///
/// | key | default | |
/// | --- | --- | --- |
/// | `smtp.host` | none (no relay) | the relay |
/// | `smtp.port` | 587, 465 or 25 by `smtp.tls` | |
/// | `smtp.tls` | `starttls` | `starttls`, `tls` (implicit) or `none` (loopback only) |
/// | `smtp.credentialsFile` | none (no AUTH) | JSON `{"username", "password"}`, not readable by others |
/// | `smtp.authMechanism` | the relay's choice | `plain` or `login` |
/// | `smtp.caFile`, `smtp.heloName`, `smtp.envelopeFrom` | system CAs, host name, each message's From | |
/// | `smtp.connectTimeoutSeconds`, `smtp.commandTimeoutSeconds` | 15, 60 | |
/// | `smtp.maxMessageBytes` | 10240000 | a larger message is failed, never offered |
/// | `smtp.connections`, `smtp.messagesPerSecond` | 2, no limit | |
/// | `smtp.retryBaseSeconds`, `smtp.retryMaxSeconds`, `smtp.maxAttempts` | 60, 3600, 50 | |
struct RelayConfiguration {
    var relay: RelaySettings
    var policy: DeliveryPolicy

    /// `nil` when no `smtp.host` is configured.
    init?(_ config: ConfigReader) throws {
        guard let host = config.string(forKey: "smtp.host") else { return nil }
        let tlsText = config.string(forKey: "smtp.tls", default: "starttls")
        guard let security = RelaySettings.Security(rawValue: tlsText) else {
            throw BackOfficeError(.badInput, "smtp.tls: \(tlsText) is not one of starttls, tls, none")
        }
        var mechanism: RelaySettings.AuthMechanism?
        if let text = config.string(forKey: "smtp.authMechanism") {
            guard let parsed = RelaySettings.AuthMechanism(rawValue: text.uppercased()) else {
                throw BackOfficeError(.badInput, "smtp.authMechanism: \(text) is not one of plain, login")
            }
            mechanism = parsed
        }
        let port = try Settings.positive(config, "smtp.port", default: security.defaultPort)
        relay = RelaySettings(
            host: host, port: port, security: security, credentialsFile: config.string(forKey: "smtp.credentialsFile"),
            authMechanism: mechanism, caFile: config.string(forKey: "smtp.caFile"),
            heloName: config.string(forKey: "smtp.heloName"), envelopeFrom: config.string(forKey: "smtp.envelopeFrom"),
            connectTimeout: try Settings.seconds(config, "smtp.connectTimeoutSeconds", default: .seconds(15)),
            commandTimeout: try Settings.seconds(config, "smtp.commandTimeoutSeconds", default: .seconds(60)),
            maxMessageBytes: try Settings.positive(
                config, "smtp.maxMessageBytes", default: RelaySettings.defaultMaxMessageBytes))
        do {
            try relay.validate()
        } catch {
            throw BackOfficeError(.badInput, error.message, underlying: error)
        }
        policy = DeliveryPolicy()
        policy.connections = try Settings.positive(config, "smtp.connections", default: policy.connections)
        if let rate = try Settings.number(config, "smtp.messagesPerSecond") {
            guard rate > 0, rate <= 1_000_000 else {
                throw BackOfficeError(.badInput, "smtp.messagesPerSecond: must be a number above 0, not \(rate)")
            }
            policy.messagesPerSecond = rate
        }
        policy.retryBase = try Settings.seconds(config, "smtp.retryBaseSeconds", default: policy.retryBase)
        policy.retryMax = try Settings.seconds(config, "smtp.retryMaxSeconds", default: policy.retryMax)
        policy.maxAttempts = try Settings.positive(config, "smtp.maxAttempts", default: policy.maxAttempts)
    }
}

extension Settings {
    /// The configured relay, or the error that says how to configure one.
    func requireRelay() throws -> RelayConfiguration {
        guard let relay else {
            throw BackOfficeError(
                .badInput,
                "no mail relay configured: set smtp.host (and smtp.tls, smtp.credentialsFile) in the configuration file "
                    + "(--config or ETICKET_CONFIG), or ETICKET_SMTP_HOST; see docs/operations.md, \"Mail delivery\"")
        }
        return relay
    }
}
