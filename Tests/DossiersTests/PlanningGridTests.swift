import Testing

@testable import Dossiers

/// The grid `planning show` and the planning-open email draw.
@Suite struct PlanningGridTests {
    let september = CalendarDate(year: 2026, month: 9, day: 1)! // a Tuesday

    @Test func aDaysMarkIsCheckedInTheReadersOrder() {
        let open = PlanningMark.PeriodDay(isClosed: false, hasRights: true)
        let thursday = september.adding(days: 2)
        let wednesday = september.adding(days: 1)
        #expect(PlanningMark.classify(thursday, reserved: true, runsOn: [4], period: nil) == .reserved)
        #expect(PlanningMark.classify(thursday, reserved: false, runsOn: [4], period: nil) == .outsidePeriod)
        #expect(PlanningMark.classify(wednesday, reserved: false, runsOn: [4], period: open) == .notRunning)
        #expect(
            PlanningMark.classify(thursday, reserved: false, runsOn: [4], period: .init(isClosed: true, hasRights: true))
                == .closed)
        #expect(
            PlanningMark.classify(thursday, reserved: false, runsOn: [4], period: .init(isClosed: false, hasRights: false))
                == .noRights)
        #expect(PlanningMark.classify(thursday, reserved: false, runsOn: [4], period: open) == .open)
    }

    @Test func weeksRunMondayToSundayPaddedAtBothEnds() {
        let grid = PlanningGrid(title: "Cantine", firstDay: september, marks: Array(repeating: .open, count: 10))
        let weeks = grid.weeks
        #expect(weeks.count == 2)
        #expect(weeks.allSatisfy { $0.count == 7 })
        #expect(weeks[0][0] == nil)
        #expect(weeks[0][1]?.date == september)
        #expect(weeks[1][3]?.date.day == 10)
        #expect(weeks[1][4] == nil)
    }

    @Test func theTextGridIsPlanningShowsFiveColumnLayout() {
        let grid = PlanningGrid(
            title: "Cantine", from: september, through: september.adding(days: 5), runsOn: [1, 2, 4, 5],
            reserved: [september]
        ) { $0.day == 6 ? nil : .init(isClosed: $0.day == 4, hasRights: true) }
        #expect(grid.textLines(language: .en) == ["  Mon  Tue  Wed  Thu  Fri  Sat  Sun", "        1●   2-   3○   4✕   5-   6"])
        #expect(grid.textLines(language: .fr)[0] == "  lun  mar  mer  jeu  ven  sam  dim")
        #expect(grid.marksShown == [.reserved, .open, .closed, .notRunning])
        #expect(
            PlanningGrid.legend(grid.marksShown, language: .fr)
                == "● réservé  ○ ouvert à la réservation  ✕ fermé (jour férié)  - pas de service ce jour-là")
    }

    @Test func theEmailAnnouncesFourWeeksOrTheWholeShortPeriod() {
        let year = PlanningGrid.announcedDays(startsOn: september, endsOn: CalendarDate(year: 2027, month: 7, day: 3)!)
        #expect(year.first == september)
        #expect(year.last == CalendarDate(year: 2026, month: 9, day: 27)) // the fourth Sunday
        let winter = CalendarDate(year: 2027, month: 2, day: 8)!
        let holiday = PlanningGrid.announcedDays(startsOn: winter, endsOn: winter.adding(days: 11))
        #expect(holiday.last == winter.adding(days: 11))
    }
}
