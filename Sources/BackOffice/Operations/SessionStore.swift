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

    /// Plans each prepared statement once for the session instead of at every run. PostgreSQL
    /// plans a prepared statement anew at each of its first five runs, then keeps a generic plan
    /// only when that plan's estimated cost is no higher than the custom plans' average; with an
    /// array of a batch's ids for parameter, the custom plans know its length and the generic one
    /// does not, so a worker's statements were planned anew at every batch: 17 % of its backend's
    /// instructions (callgrind, 3,000 dossiers). Their plans are index lookups driven by the
    /// batch's arrays whatever their length, and the bench checks the generic ones at 100,000
    /// dossiers and more.
    func planPreparedStatementsOnce() throws {
        try connection.query("SELECT set_config('plan_cache_mode', 'force_generic_plan', false)")
    }
}
