import Testing

/// The tags of the slow suites, declared once for every test target. `swift test` runs every suite;
/// `scripts/test-quick` leaves out the suites carrying one of these (Swift Testing 6.3 cannot
/// filter by tag on the command line, so the script finds the tagged suites in the sources and
/// skips them by name).
extension Tag {
    /// Runs the built `eticket` as a child process, the way an operator or a scheduler does.
    @Tag public static var e2e: Self
    /// Kills processes, connections or the server mid-transaction, then checks that nothing was
    /// lost or done twice.
    @Tag public static var chaos: Self
    /// Runs the benchmark or its replays, at a small size, to check that they still work.
    @Tag public static var bench: Self
}
