/// The instant the back office decides from, as SQL to put in a query: PostgreSQL's `now()`,
/// unless the database pins another instant with the `eticket.clock` setting.
///
/// Every decision taken against a structure's calendar reads it: whether a period has ended,
/// whether a planning has opened or an opening time has passed, a child's age today, when a queued
/// job falls due. Pinning it (`ALTER DATABASE … SET eticket.clock = '2026-12-03T12:00:00Z'`)
/// replays that day; the tests pin it so that the example data, whose dates are fixed, tells the
/// same story whatever day the suite runs on. What happened keeps the database's own time
/// (decisions, events, emails, purges, retention), and no trigger or permission reads the setting.
///
/// Only the database's own setting counts (`ALTER DATABASE`, which only the database's owner can
/// run): a session's `SET`, a role's `ALTER ROLE … SET` or a client's
/// `PGOPTIONS` are ignored, so no login can move the clock its worker decides by. The setting is
/// read once per statement (an InitPlan), not per row.
enum DecisionClock {
    // Read from the catalog that `ALTER DATABASE … SET` writes (a custom setting has no row in
    // pg_settings), for the database as a whole (setrole 0), never from the session.
    static let pinned = """
        (SELECT nullif(substr(c, 15), '')::timestamptz FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) c
         WHERE s.setrole = 0 AND c LIKE 'eticket.clock=%'
           AND s.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
        """
    /// The transaction's instant.
    static let now = "coalesce(\(pinned), now())"
    /// The statement's instant, for a delay that counts from the moment of a failure.
    static let statementNow = "coalesce(\(pinned), clock_timestamp())"
}
