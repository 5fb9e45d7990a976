/// Which server a connection reached and what it is for, as `eticket doctor` reports it.
public struct ServerRole: Sendable, Equatable {
    /// `host:port` (see ``Connection/server``).
    public var server: String
    /// Whether the server is a primary (`pg_is_in_recovery()` is false): it accepts writes unless
    /// ``readOnly`` says otherwise.
    public var isPrimary: Bool
    /// `default_transaction_read_only`: a failover keeper sets it on a node it is promoting or
    /// demoting, so that `target_session_attrs=read-write` clients leave it.
    public var readOnly: Bool
    /// `synchronous_standby_names`: empty when commits do not wait for a standby.
    public var synchronousStandbyNames: String
}

extension Connection {
    /// The server this connection reached, and whether it is the primary.
    ///
    /// - Throws: ``PostgresError`` when the server cannot answer.
    public func serverRole() throws(PostgresError) -> ServerRole {
        let row = try query(
            """
            SELECT NOT pg_is_in_recovery() AS primary, current_setting('default_transaction_read_only')::bool AS read_only,
                   current_setting('synchronous_standby_names') AS standbys
            """
        ).first
        return ServerRole(
            server: server, isPrimary: try row?.decode(Bool.self, "primary") ?? false,
            readOnly: try row?.decode(Bool.self, "read_only") ?? false,
            synchronousStandbyNames: try row?.decode(String.self, "standbys") ?? "")
    }
}
