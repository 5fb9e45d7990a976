import Postgres
public final class EmailOutbox: FamilyNotifier {
    public init(directory: String? = nil) throws {}
    func decisionsRecorded(_ decisionIDs: [Int64], on connection: Connection) throws {}
    func rightsOpened(_ openings: [DecisionStore.Opening], on connection: Connection) throws {}
}
