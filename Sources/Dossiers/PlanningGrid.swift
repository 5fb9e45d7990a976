/// What one service day is for a child, as the family guide draws it.
///
/// The one classification of a day: `planning show` and the planning-open email both ask
/// ``classify(_:reserved:runsOn:period:)``, so the terminal and the email never disagree.
public enum PlanningMark: String, Sendable, Equatable, Codable, CaseIterable {
    /// Reserved.
    case reserved
    /// Open to reserve: rights, a day the service runs, inside the period and not closed.
    case open
    /// A closed date of the period (a public holiday) on a day the service would run.
    case closed
    /// The service does not run on this weekday.
    case notRunning = "not_running"
    /// Inside a period, but the child has no rights for this service and period.
    case noRights = "no_rights"
    /// In no period of the structure.
    case outsidePeriod = "outside_period"

    /// The period a day falls in, as far as the classification needs it.
    public struct PeriodDay: Sendable {
        public var isClosed: Bool
        public var hasRights: Bool

        public init(isClosed: Bool, hasRights: Bool) {
            self.isClosed = isClosed
            self.hasRights = hasRights
        }
    }

    /// A day's mark, checked in the order a reader asks: reserved? in a period? does the service
    /// run that weekday? closed? rights?
    public static func classify(_ day: CalendarDate, reserved: Bool, runsOn weekdays: [Int], period: PeriodDay?)
        -> PlanningMark
    {
        if reserved { return .reserved }
        guard let period else { return .outsidePeriod }
        if !weekdays.contains(day.isoWeekday) { return .notRunning }
        if period.isClosed { return .closed }
        return period.hasRights ? .open : .noRights
    }

    /// The guide's symbol: ● reserved, ○ open, ✕ closed, - not running, · no rights, blank outside.
    public var symbol: String {
        switch self {
        case .reserved: "●"
        case .open: "○"
        case .closed: "✕"
        case .notRunning: "-"
        case .noRights: "·"
        case .outsidePeriod: " "
        }
    }

    /// What the symbol means, for a legend.
    public func meaning(in language: Language) -> String {
        switch (self, language) {
        case (.reserved, .fr): "réservé"
        case (.open, .fr): "ouvert à la réservation"
        case (.closed, .fr): "fermé (jour férié)"
        case (.notRunning, .fr): "pas de service ce jour-là"
        case (.noRights, .fr): "pas de droits pour ce service"
        case (.outsidePeriod, .fr): "hors période"
        case (.reserved, .en): "reserved"
        case (.open, .en): "open to reserve"
        case (.closed, .en): "closed (holiday)"
        case (.notRunning, .en): "service not running"
        case (.noRights, .en): "no rights for this service"
        case (.outsidePeriod, .en): "outside the period"
        }
    }
}

/// One service's days laid out Monday to Sunday: the model `planning show` and the planning-open
/// email draw, as terminal text, as email text (``textLines(language:)``) and as HTML (in Mail).
public struct PlanningGrid: Sendable, Equatable {
    /// The service's label, as the structure wrote it.
    public var title: String
    /// The first day of ``marks``.
    public var firstDay: CalendarDate
    /// One mark per day from ``firstDay``.
    public var marks: [PlanningMark]

    public init(title: String, firstDay: CalendarDate, marks: [PlanningMark]) {
        self.title = title
        self.firstDay = firstDay
        self.marks = marks
    }

    /// A day of the grid.
    public struct Cell: Sendable, Equatable {
        public var date: CalendarDate
        public var mark: PlanningMark
    }

    /// Rows of seven, Monday first; `nil` before the first day and after the last.
    public var weeks: [[Cell?]] {
        var rows: [[Cell?]] = []
        var row: [Cell?] = Array(repeating: nil, count: firstDay.isoWeekday - 1)
        for (offset, mark) in marks.enumerated() {
            row.append(Cell(date: firstDay.adding(days: offset), mark: mark))
            if row.count == 7 {
                rows.append(row)
                row = []
            }
        }
        if !row.isEmpty { rows.append(row + Array(repeating: nil, count: 7 - row.count)) }
        return rows
    }

    /// The marks that occur, in the legend's order.
    public var marksShown: [PlanningMark] {
        PlanningMark.allCases.filter { mark in mark != .outsidePeriod && marks.contains(mark) }
    }

    /// Weekday headings, Monday first.
    public static func weekdayNames(_ language: Language) -> [String] {
        language == .fr ? ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"] : ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    }

    /// Width of a column of ``textLines(language:)``.
    public static let columnWidth = 5

    /// The calendar as monospace text: a heading row, then one row per week, each day its number
    /// and its symbol right-aligned in five columns (`   1○   2●`). No title, no legend.
    public func textLines(language: Language) -> [String] {
        var lines = [Self.weekdayNames(language).map { Self.pad($0) }.joined()]
        for week in weeks {
            let line = week.map { cell in cell.map { Self.pad("\($0.date.day)\($0.mark.symbol)") } ?? Self.pad("") }
                .joined()
            // Trailing blanks off, on UTF-8: walking Characters backwards was a quarter of an
            // export's CPU (a planning-open email draws a dozen grids).
            let end = line.utf8.lastIndex(where: { $0 != UInt8(ascii: " ") }).map { line.utf8.index(after: $0) }
            lines.append(String(line[..<(end ?? line.startIndex)]))
        }
        return lines
    }

    /// A legend of `marks`, one line: `● reserved  ○ open to reserve`.
    public static func legend(_ marks: [PlanningMark], language: Language) -> String {
        marks.map { "\($0.symbol) \($0.meaning(in: language))" }.joined(separator: "  ")
    }

    private static func pad(_ text: String) -> String {
        text.count >= columnWidth ? text : String(repeating: " ", count: columnWidth - text.count) + text
    }
}

extension PlanningGrid {
    /// Classifies every day from `first` through `last` with ``PlanningMark/classify(_:reserved:runsOn:period:)``.
    /// - Parameter period: the period `day` falls in (closed? rights?), `nil` outside any period.
    public init(
        title: String, from first: CalendarDate, through last: CalendarDate, runsOn weekdays: [Int],
        reserved: Set<CalendarDate>, period: (CalendarDate) -> PlanningMark.PeriodDay?
    ) {
        let count = max(0, last.daysSinceEpoch - first.daysSinceEpoch + 1)
        let marks = (0..<count).map { offset in
            let day = first.adding(days: offset)
            return PlanningMark.classify(day, reserved: reserved.contains(day), runsOn: weekdays, period: period(day))
        }
        self.init(title: title, firstDay: first, marks: marks)
    }

    /// How many weeks the planning-open email shows.
    public static let weeksAnnounced = 4

    /// The days the planning-open email draws: from `startsOn` (the period's first day, or today
    /// when the period is under way) to the Sunday that ends its ``weeksAnnounced``th week, or to
    /// the period's end if sooner.
    public static func announcedDays(startsOn: CalendarDate, endsOn: CalendarDate) -> (first: CalendarDate, last: CalendarDate) {
        let sunday = startsOn.adding(days: 7 - startsOn.isoWeekday + 7 * (weeksAnnounced - 1))
        return (startsOn, min(sunday, endsOn))
    }
}
