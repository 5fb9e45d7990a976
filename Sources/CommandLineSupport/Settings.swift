import ArgumentParser
import BackOffice
import Configuration
import Foundation
import Logging
import Postgres
import SystemPackage

/// `--statement-timeout` and `--commit-timeout`, for the commands that run unattended.
package struct WaitOptions: ParsableArguments {
    package init() {}

    @Option(
        help:
            "Seconds a statement may wait for the database before it is cancelled and eticket reconnects (default 30, or database.statementTimeoutSeconds)."
    )
    package var statementTimeout: Double?
    @Option(
        help:
            "Seconds a COMMIT may wait (for a synchronous standby, say) before it is cancelled and eticket reconnects (default 30, or database.commitTimeoutSeconds)."
    )
    package var commitTimeout: Double?

    /// The flags given, by configuration key.
    package var flags: [String: ConfigValue] {
        var flags: [String: ConfigValue] = [:]
        if let statementTimeout { flags["database.statementTimeoutSeconds"] = .init(.double(statementTimeout), isSecret: false) }
        if let commitTimeout { flags["database.commitTimeoutSeconds"] = .init(.double(commitTimeout), isSecret: false) }
        return flags
    }
}

/// The resolved configuration: flag > environment (`ETICKET_…`) > config file > default.
package struct Settings {
    /// `nil` when no database is configured anywhere but possibly in the PG* environment.
    package var databaseURL: String?
    package var worker = WorkerConfiguration()
    package var processes = 1
    package var logLevel = Logger.Level.info
    package var templatesDirectory: String?
    /// The mail relay (`smtp.*`), `nil` when none is configured.
    package var relay: RelayConfiguration?

    /// The connection string to hand to libpq: empty lets libpq read PGHOST, PGDATABASE, …
    package var conninfo: String { databaseURL ?? "" }

    /// Whether a database is named anywhere, the PG* environment included.
    package var hasDatabase: Bool {
        databaseURL != nil
            || ["PGHOST", "PGDATABASE", "PGSERVICE", "PGPORT"].contains { ProcessInfo.processInfo.environment[$0] != nil }
    }

    /// Reads the layers; `flags` holds the values given on the command line, by config key.
    package static func load(_ options: GlobalOptions, flags: [String: ConfigValue] = [:]) async throws -> Settings {
        var flags = flags
        if let url = options.databaseURL { flags["database.url"] = ConfigValue(.string(url), isSecret: true) }
        if let level = options.logLevel { flags["log.level"] = ConfigValue(.string(level), isSecret: false) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "flags",
                values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey(ConfigKey($0.key)), $0.value) })),
            EnvironmentVariablesProvider(secretsSpecifier: .specific(["ETICKET_DATABASE_URL"])).prefixKeys(with: "eticket"),
        ]
        if let file = Self.configFile(options) {
            try ConfigurationFile.validate(file)
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
            } catch {
                throw BackOfficeError(.badInput, "\(file): not a valid JSON configuration file: \(error)")
            }
        }
        return try Settings(ConfigReader(providers: providers))
    }

    /// `--config`, else `ETICKET_CONFIG`, else the installed layout's `/etc/eticket/config.json`
    /// when this user may read it (an administrator outside the `eticket` group, with a database
    /// URL of their own, is not stopped by the service's file).
    package static func configFile(_ options: GlobalOptions) -> String? {
        if let file = options.configFile ?? ProcessInfo.processInfo.environment["ETICKET_CONFIG"] { return file }
        guard let installed = ProjectFiles.installedConfigFile, access(installed, R_OK) == 0 else { return nil }
        return installed
    }

    init(_ config: ConfigReader) throws {
        databaseURL = config.string(forKey: "database.url", isSecret: true)
        worker.batchSize = try Self.positive(config, "worker.batchSize", default: worker.batchSize)
        worker.maxAttempts = try Self.positive(config, "worker.maxAttempts", default: worker.maxAttempts)
        worker.pollInterval = try Self.seconds(config, "worker.pollIntervalSeconds", default: worker.pollInterval)
        worker.retryBaseDelay = try Self.seconds(config, "worker.retryBaseSeconds", default: worker.retryBaseDelay)
        processes = try Self.positive(config, "worker.processes", default: processes)
        let limits = WorkerConfiguration.defaultWaitLimits
        worker.waitLimits = WaitLimits(
            statement: try Self.seconds(config, "database.statementTimeoutSeconds", default: limits.statement ?? .seconds(30)),
            commit: try Self.seconds(config, "database.commitTimeoutSeconds", default: limits.commit ?? .seconds(30)))
        templatesDirectory = config.string(forKey: "templates.directory")
        let level = config.string(forKey: "log.level", default: "info")
        guard let parsed = Logger.Level(rawValue: level) else {
            throw BackOfficeError(
                .badInput, "log.level: \(level) is not one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = parsed
        relay = try RelayConfiguration(config)
    }

    static func positive(_ config: ConfigReader, _ key: String, default value: Int) throws -> Int {
        guard let number = try self.number(config, key) else { return value }
        guard number >= 1, number == number.rounded(), number < 1e9 else {
            throw BackOfficeError(.badInput, "\(key): must be a whole number of at least 1, not \(number)")
        }
        return Int(number)
    }

    static func seconds(_ config: ConfigReader, _ key: String, default value: Duration) throws -> Duration {
        guard let number = try self.number(config, key) else { return value }
        guard number > 0, number <= 86_400 else {
            throw BackOfficeError(.badInput, "\(key): must be a number of seconds above 0 and at most 86400, not \(number)")
        }
        return .milliseconds(Int((number * 1000).rounded()))
    }

    /// A number however the layer holds it (an integer or a decimal in JSON, text in the
    /// environment); a value that is there but no number is an error, never silently the default.
    static func number(_ config: ConfigReader, _ key: String) throws -> Double? {
        let key = ConfigKey(key)
        if let value = config.int(forKey: key) { return Double(value) }
        if let value = config.double(forKey: key) { return value }
        if let text = config.string(forKey: key) {
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw BackOfficeError(.badInput, "\(key): not a number: \(text)")
            }
            return value
        }
        if config.bool(forKey: key) != nil {
            throw BackOfficeError(.badInput, "\(key): not a number: a boolean")
        }
        return nil
    }

    /// Logs go to stderr, one line per event; bootstrapped once per process.
    package func bootstrapLogging() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "eticket")
    }
}
