import Postgres

/// The SQL that prepares a new session for the back office's statements.
struct SessionStore {
    let connection: Connection

    /// Names the actor the triggers record and sets the planner for short statements, for the
    /// whole session (see ``Database/connect(_:actor:keepalive:limits:)`` for why each setting).
    func prepare(actor: String) throws {
        try connection.query(
            """
            SELECT set_config('eticket.actor', $1, false), set_config('jit', 'off', false),
                   set_config('random_page_cost', '1.1', false),
                   set_config('client_connection_check_interval', '5s', false)
            """, [actor])
    }
}
