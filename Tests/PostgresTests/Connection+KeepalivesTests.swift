import Postgres
import TestSupport
import Testing

@Suite struct ConnectionKeepalivesTests {
    let keepalive = TCPKeepalive.worker
    let noEnvironment: [String: String] = [:]

    @Test func addsEverySettingToATCPConninfo() throws {
        let conninfo = try Connection.conninfo(
            "postgresql://app@db.example:6543/main?sslmode=verify-full", addingKeepalive: keepalive, environment: noEnvironment)
        let settings = try Connection.conninfoSettings(conninfo)
        #expect(settings["host"] == "db.example" && settings["port"] == "6543" && settings["user"] == "app")
        #expect(settings["dbname"] == "main" && settings["sslmode"] == "verify-full")
        #expect(settings["keepalives"] == "1")
        #expect(settings["keepalives_idle"] == "10")
        #expect(settings["keepalives_interval"] == "5")
        #expect(settings["keepalives_count"] == "4")
        #expect(settings["tcp_user_timeout"] == "30000")
    }

    /// An operator's own value wins, setting by setting, and `keepalives=0` stays off.
    @Test func keepsTheConninfosOwnSettings() throws {
        let conninfo = try Connection.conninfo(
            "host=db.example keepalives=0 tcp_user_timeout=120000", addingKeepalive: keepalive, environment: noEnvironment)
        let settings = try Connection.conninfoSettings(conninfo)
        #expect(settings["keepalives"] == "0")
        #expect(settings["tcp_user_timeout"] == "120000")
        #expect(settings["keepalives_idle"] == "10")
    }

    @Test func leavesUnixSocketsAlone() throws {
        for conninfo in ["host=/run/postgresql dbname=x", "host=@abstract", "", "dbname=x", "postgresql:///x?host=/tmp"] {
            #expect(try Connection.conninfo(conninfo, addingKeepalive: keepalive, environment: noEnvironment) == conninfo)
        }
        // The environment's host counts when the conninfo names none, and only then.
        #expect(try Connection.conninfo("dbname=x", addingKeepalive: keepalive, environment: ["PGHOST": "/tmp"]) == "dbname=x")
        #expect(
            try Connection.conninfo("host=/tmp", addingKeepalive: keepalive, environment: ["PGHOST": "db.example"]) == "host=/tmp"
        )
    }

    @Test func readsTCPFromTheEnvironmentAndFromEitherHostSetting() throws {
        let fromEnvironment = try Connection.conninfo(
            "dbname=x", addingKeepalive: keepalive, environment: ["PGHOST": "db.example"])
        #expect(try Connection.conninfoSettings(fromEnvironment)["keepalives_idle"] == "10")
        #expect(try Connection.conninfoSettings(fromEnvironment)["host"] == nil, "the environment stays the environment's")
        let byAddress = try Connection.conninfo("hostaddr=10.0.0.1", addingKeepalive: keepalive, environment: noEnvironment)
        #expect(try Connection.conninfoSettings(byAddress)["tcp_user_timeout"] == "30000")
        let mixed = try Connection.conninfo("host=/tmp,db.example", addingKeepalive: keepalive, environment: noEnvironment)
        #expect(try Connection.conninfoSettings(mixed)["keepalives"] == "1")
    }

    /// The rewrite re-quotes every value: a password or name built to break quoting comes back
    /// whole, and adds no setting of its own (`host=attacker.example` stays inside the value).
    @Test func everyHostileValueComesBackWhole() throws {
        for value in HostileNames.names() {
            let original = "host=db.example user=\(try quoteConninfoValue(value)) password=\(try quoteConninfoValue(value))"
            let rewritten = try Connection.conninfo(original, addingKeepalive: keepalive, environment: noEnvironment)
            var expected = keepalive.settings
            expected["host"] = "db.example"
            expected["user"] = value
            expected["password"] = value
            #expect(try Connection.conninfoSettings(rewritten) == expected, "\(Array(value.unicodeScalars))")
        }
    }

    /// A service file is the operator's whole configuration of the connection: it is not overridden.
    @Test func leavesAServiceAlone() throws {
        #expect(
            try Connection.conninfo("service=eticket", addingKeepalive: keepalive, environment: noEnvironment)
                == "service=eticket")
        #expect(
            try Connection.conninfo("host=db.example", addingKeepalive: keepalive, environment: ["PGSERVICE": "x"])
                == "host=db.example")
    }

    @Test func aMalformedConninfoIsAClientError() throws {
        let error = try #require(throws: PostgresError.self) {
            try Connection.conninfo("host", addingKeepalive: keepalive, environment: noEnvironment)
        }
        #expect(error.code == .client)
    }

    /// libpq accepts every setting: a connection made with them works (through the test server's
    /// socket, with a TCP host listed after it so that the settings are added).
    @Test func libpqAcceptsTheSettings() throws {
        var settings = try Connection.conninfoSettings(try TestDatabases.shared().create())
        settings["host"] = (settings["host"] ?? "") + ",db.invalid"
        let base = try settings.map { "\($0.key)=\(try quoteConninfoValue($0.value))" }.joined(separator: " ")
        let conninfo = try Connection.conninfo(base, addingKeepalive: keepalive, environment: noEnvironment)
        #expect(try Connection.conninfoSettings(conninfo)["tcp_user_timeout"] == "30000")
        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.query("SELECT 1 AS one").first?.decode(Int.self, "one") == 1)
    }
}
