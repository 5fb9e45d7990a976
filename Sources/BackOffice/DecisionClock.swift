/// The instant the back office decides from, as SQL to put in a query: PostgreSQL's `now()`,
/// unless the session pins another instant with the `eticket.clock` setting.
///
/// Every decision taken against a structure's calendar reads it: whether a period has ended,
/// whether a planning has opened or an opening time has passed, a child's age today, when a queued
/// job falls due. Pinning it (`ALTER DATABASE … SET eticket.clock = '2026-12-03T12:00:00Z'`)
/// replays that day; the tests pin it so that the example data, whose dates are fixed, tells the
/// same story whatever day the suite runs on. What happened keeps the database's own time
/// (decisions, events, emails, purges, retention), and no trigger or permission reads the setting:
/// it only changes what this session's back office decides to do.
enum DecisionClock {
    /// The transaction's instant.
    static let now = "coalesce(nullif(current_setting('eticket.clock', true), '')::timestamptz, now())"
    /// The statement's instant, for a delay that counts from the moment of a failure.
    static let statementNow = "coalesce(nullif(current_setting('eticket.clock', true), '')::timestamptz, clock_timestamp())"
}
