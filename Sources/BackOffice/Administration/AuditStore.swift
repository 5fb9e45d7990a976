import Postgres

/// The SQL of the audit trail: the dossiers' event chains (migration 003) recomputed, and the
/// heads of each structure's chains for an anchor. Every method runs on the caller's connection,
/// inside the caller's transaction.
struct AuditStore {
    let connection: Connection

    /// Dossiers with events, and events, of one structure or all.
    func counts(structure: String?) throws -> (dossiers: Int, events: Int) {
        guard
            let row = try connection.query(
                """
                SELECT count(DISTINCT e.dossier_id) AS dossiers, count(*) AS events
                FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id JOIN structures s ON s.id = d.structure_id
                WHERE $1::text IS NULL OR s.code = $1
                """, [structure]
            ).first
        else { return (0, 0) }
        return (try row.decode("dossiers"), try row.decode("events"))
    }

    /// The dossiers whose history does not verify, by external id: an event changed, removed or
    /// reordered, no history, or a history that does not end in the dossier's state.
    func breaks(structure: String?) throws -> [AuditBreak] {
        try connection.query(
            """
            WITH chain AS (
                SELECT e.id, e.dossier_id, e.to_state, e.hash, e.previous_hash,
                       lag(e.hash) OVER (PARTITION BY e.dossier_id ORDER BY e.id) AS expected_previous,
                       dossier_event_digest(e) AS recomputed,
                       row_number() OVER (PARTITION BY e.dossier_id ORDER BY e.id DESC) AS from_end
                FROM dossier_events e
            ), broken AS (
                SELECT dossier_id, min(id) AS event_id,
                       bool_or(hash IS DISTINCT FROM recomputed) AS altered,
                       bool_or(previous_hash IS DISTINCT FROM expected_previous) AS unlinked
                FROM chain
                WHERE hash IS DISTINCT FROM recomputed OR previous_hash IS DISTINCT FROM expected_previous
                GROUP BY dossier_id
            ), last AS (
                SELECT dossier_id, to_state FROM chain WHERE from_end = 1
            )
            SELECT d.external_id, b.event_id,
                   CASE WHEN b.altered THEN 'an event was changed'
                        WHEN b.unlinked THEN 'an event was removed or reordered'
                        WHEN l.to_state IS NULL THEN 'the dossier has no history'
                        ELSE 'the history ends in ' || l.to_state || ' but the dossier is ' || d.state END AS reason
            FROM dossiers d
            JOIN structures s ON s.id = d.structure_id
            LEFT JOIN broken b ON b.dossier_id = d.id
            LEFT JOIN last l ON l.dossier_id = d.id
            WHERE ($1::text IS NULL OR s.code = $1) AND d.state <> 'draft'
              AND (b.dossier_id IS NOT NULL OR l.to_state IS DISTINCT FROM d.state)
            ORDER BY d.external_id
            """, [structure]
        ).map {
            AuditBreak(
                dossier: try $0.decode("external_id"), eventID: try $0.decodeIfPresent("event_id"),
                reason: try $0.decode("reason"))
        }
    }

    /// Waits for the transactions writing events to finish, and keeps new ones out until the
    /// caller's transaction ends (a SHARE lock on dossier_events, which the owner may take): an
    /// event id drawn by a transaction still running could otherwise commit below an anchored id.
    func waitForEventWriters() throws {
        try connection.execute(script: "LOCK TABLE dossier_events IN SHARE MODE")
    }

    /// The heads of the chains, per structure: of every event, or for each anchored structure of
    /// the events up to its anchored last id.
    func heads(upTo anchors: [AuditAnchor]?) throws -> [AuditAnchor] {
        try connection.query(
            """
            WITH event AS (
                SELECT s.code, e.dossier_id, e.id, e.hash,
                       row_number() OVER (PARTITION BY e.dossier_id ORDER BY e.id DESC) AS from_end
                FROM dossier_events e
                JOIN dossiers d ON d.id = e.dossier_id
                JOIN structures s ON s.id = d.structure_id
                LEFT JOIN unnest($1::text[], $2::bigint[]) AS a(code, last_event_id) ON a.code = s.code
                WHERE NOT $3 OR e.id <= a.last_event_id
            )
            SELECT code, max(id) AS last_event_id, count(*) AS events,
                   encode(sha256(convert_to(
                       string_agg(dossier_id || ':' || hash, ',' ORDER BY dossier_id) FILTER (WHERE from_end = 1),
                       'UTF8')), 'hex') AS digest
            FROM event GROUP BY code ORDER BY code
            """, [anchors?.map(\.structure) ?? [], anchors?.map(\.lastEventID) ?? [], anchors != nil]
        ).map {
            AuditAnchor(
                structure: try $0.decode("code"), lastEventID: try $0.decode("last_event_id"),
                events: try $0.decode("events"), digest: try $0.decode("digest"))
        }
    }
}
