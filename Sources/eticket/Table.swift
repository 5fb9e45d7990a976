/// Plain-text tables that read well at 80 columns: the last column takes what width is left and
/// long values are cut with an ellipsis.
struct Table {
    var headers: [String]
    var rows: [[String]] = []
    var width = 80

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        let fixed = widths.dropLast().reduce(0, +) + 2 * (widths.count - 1)
        if let last = widths.indices.last { widths[last] = max(headers[last].count, min(widths[last], width - fixed)) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let cut = cell.count > widths[index] ? String(cell.prefix(max(0, widths[index] - 1))) + "…" : cell
                return index == cells.count - 1 ? cut : cut.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}
