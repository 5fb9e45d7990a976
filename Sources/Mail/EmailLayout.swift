import Dossiers
import Foundation

/// The frame every family email is drawn in, the way mail clients need it: one column at most
/// 600 px wide that narrows to a phone, tables for layout, inline styles, system fonts, no
/// script, no stylesheet, no image but the structure's optional logo.
///
/// A header carries the structure's name (and logo) on its colour, the template's HTML body
/// comes next, and a footer carries the structure's contact. The plain-text part gets the same
/// contact as a signature. Every value is escaped; branding is checked again here, so a value
/// written behind the contract's back cannot add markup, a script or an outside resource.
enum EmailLayout {
    /// The neutral colour of a structure without an accent colour (a dark blue: 9.6:1 on white).
    static let neutralAccent = "#1f4e79"
    static let fontFamily = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
    static let textColor = "#1a1a1a"
    static let mutedColor = "#4a5260"
    static let lineColor = "#dde1e6"
    /// A word wider than the phone (a long name, an address) wraps instead of widening the page.
    static let wrapping = "overflow-wrap:anywhere;word-break:break-word"
    /// The most calendars one email draws; later services are named, with a pointer to the portal.
    static let maxCalendars = 12

    /// The inline style the layout gives an element of a template's HTML body that has none.
    static let defaultStyle: [String: String] = [
        "p": "margin:0 0 16px",
        "h1": "margin:0 0 16px;font-size:22px;line-height:28px;font-weight:bold;color:\(textColor)",
        "h2": "margin:24px 0 8px;font-size:18px;line-height:24px;font-weight:bold;color:\(textColor)",
        "h3": "margin:16px 0 8px;font-size:16px;line-height:22px;font-weight:bold;color:\(textColor)",
        "ul": "margin:0 0 16px;padding:0 0 0 20px",
        "ol": "margin:0 0 16px;padding:0 0 0 20px",
        "li": "margin:0 0 8px",
        "small": "font-size:13px;line-height:18px;color:\(mutedColor)",
        "a": "color:\(neutralAccent);text-decoration:underline",
        "table": "border-collapse:collapse;width:100%;margin:0 0 16px",
        "td": "padding:8px 0;vertical-align:top",
        "th": "padding:8px 0;text-align:left",
        "blockquote": "margin:0 0 16px;padding:12px 16px;background-color:#f2f4f7;border-left:4px solid \(lineColor)",
    ]

    // MARK: Colours

    /// The header band's and the button's colours: the structure's accent (when it is a valid
    /// `#rrggbb`) with white text, or black when white would not reach 4.5:1 on it (one of the two always does).
    struct Palette: Equatable {
        var accent: String
        var onAccent: String

        init(_ branding: Branding) {
            let accent = branding.accentColor.flatMap(Branding.accentColor) ?? EmailLayout.neutralAccent
            self.accent = accent
            self.onAccent = Self.contrast(accent, "#ffffff") >= 4.5 ? "#ffffff" : "#000000"
        }

        /// WCAG 2 contrast ratio of two `#rrggbb` colours.
        static func contrast(_ first: String, _ second: String) -> Double {
            let (a, b) = (luminance(first), luminance(second))
            return (max(a, b) + 0.05) / (min(a, b) + 0.05)
        }

        static func luminance(_ color: String) -> Double {
            let value = Int(color.dropFirst(), radix: 16) ?? 0
            func channel(_ shift: Int) -> Double {
                let c = Double((value >> shift) & 0xFF) / 255
                return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0)
        }
    }

    // MARK: The frame

    /// From `<!DOCTYPE html>` to where the template's body goes.
    static func appendHead(_ context: EmailContext, subject: [UInt8], to html: inout [UInt8]) {
        let palette = Palette(context.structure.branding)
        html += "<!DOCTYPE html>\n<html lang=\"\(context.language.rawValue)\">\n<head>\n".utf8
        html += "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n".utf8
        html +=
            "<meta name=\"x-apple-disable-message-reformatting\">\n<meta name=\"color-scheme\" content=\"light\">\n<title>".utf8
        UTF8Text.appendEscapingHTML(subject, to: &html)
        html += "</title>\n</head>\n<body style=\"margin:0;padding:0;background-color:#f2f4f7\">\n".utf8
        html += table("width:100%;background-color:#f2f4f7").utf8
        html += "<tr><td align=\"center\" style=\"padding:16px 0\">\n".utf8
        html += table("width:100%;max-width:600px;background-color:#ffffff;border:1px solid \(lineColor)").utf8
        html +=
            "<tr><td style=\"background-color:\(palette.accent);color:\(palette.onAccent);padding:20px 24px;font-family:\(fontFamily);\(wrapping)\">\n"
            .utf8
        let branding = context.structure.branding
        let name = singleLine(
            branding.displayName.flatMap { UTF8Text.hasSingleLineText($0) ? $0 : nil } ?? context.structure.name)
        if let logo = branding.logoURL, Branding.isLogoURL(logo) {
            html += "<img src=\"".utf8
            UTF8Text.appendEscapingHTML(Array(logo.utf8), to: &html)
            html += "\" alt=\"".utf8
            UTF8Text.appendEscapingHTML(name, to: &html)
            html +=
                "\" height=\"48\" style=\"display:block;height:48px;width:auto;max-width:100%;border:0;margin:0 0 10px;color:\(palette.onAccent)\">\n"
                .utf8
        }
        html += "<div style=\"font-size:20px;line-height:26px;font-weight:bold;color:\(palette.onAccent)\">".utf8
        UTF8Text.appendEscapingHTML(name, to: &html)
        html += "</div>\n</td></tr>\n".utf8
        html +=
            "<tr><td style=\"padding:24px 20px 8px;font-family:\(fontFamily);font-size:16px;line-height:24px;color:\(textColor);\(wrapping)\">\n"
            .utf8
    }

    /// From the end of the template's body to `</html>`: the footer with the contact.
    static func appendFoot(_ context: EmailContext, to html: inout [UInt8]) {
        html +=
            "\n</td></tr>\n<tr><td style=\"padding:16px 20px 24px;border-top:1px solid \(lineColor);font-family:\(fontFamily);font-size:14px;line-height:20px;color:\(mutedColor);\(wrapping)\">\n"
            .utf8
        html += "<strong style=\"color:\(textColor)\">".utf8
        UTF8Text.appendEscapingHTML(singleLine(context.structure.name), to: &html)
        html += "</strong>".utf8
        let words = Words(context.language)
        let branding = context.structure.branding
        if let address = present(branding.address) {
            html += "<br>\n".utf8
            UTF8Text.appendEscapingHTML(singleLine(address), to: &html)
        }
        if let phone = present(branding.phone) {
            html += "<br>\n\(words.phone)".utf8
            let digits = telephoneTarget(phone)
            if !digits.isEmpty {
                html += "<a href=\"tel:\(digits)\" style=\"color:\(textColor);text-decoration:underline\">".utf8
            }
            UTF8Text.appendEscapingHTML(singleLine(phone), to: &html)
            if !digits.isEmpty { html += "</a>".utf8 }
        }
        if let hours = present(branding.openingHours) {
            html += "<br>\n\(words.hours)".utf8
            UTF8Text.appendEscapingHTML(singleLine(hours), to: &html)
        }
        html += "\n</td></tr>\n</table>\n</td></tr>\n</table>\n</body>\n</html>\n".utf8
    }

    /// The contact as a signature at the end of the plain-text part.
    static func appendTextFoot(_ context: EmailContext, to text: inout [UInt8]) {
        let words = Words(context.language)
        let branding = context.structure.branding
        text += "\n-- \n".utf8
        text += singleLine(context.structure.name)
        text.append(0x0A)
        if let address = present(branding.address) { text += singleLine(address) + [0x0A] }
        if let phone = present(branding.phone) { text += Array(words.phone.utf8) + singleLine(phone) + [0x0A] }
        if let hours = present(branding.openingHours) { text += Array(words.hours.utf8) + singleLine(hours) + [0x0A] }
    }

    // MARK: The button

    /// A button that is a real link, 48 px tall, drawn by a table cell so that clients that
    /// ignore padding on links still show it.
    static func appendButtonStart(url: [UInt8], palette: Palette, to html: inout [UInt8]) {
        html += table("margin:8px 0 24px").utf8
        html +=
            "<tr><td align=\"center\" bgcolor=\"\(palette.accent)\" style=\"background-color:\(palette.accent);border-radius:6px\">"
            .utf8
        html += "<a href=\"".utf8
        UTF8Text.appendEscapingHTML(url, to: &html)
        html +=
            "\" style=\"display:inline-block;padding:14px 28px;font-family:\(fontFamily);font-size:17px;line-height:20px;font-weight:bold;color:\(palette.onAccent);text-decoration:none;border-radius:6px\">"
            .utf8
    }

    static func appendButtonEnd(to html: inout [UInt8]) {
        html += "</a></td></tr>\n</table>".utf8
    }

    // MARK: Calendars

    /// One service's calendar as a seven-column table that fits 320 px: per week a row of day
    /// numbers and a row of marks. Styles sit on the rows, not the cells, to keep a family's
    /// email small (a calendar is about 2 KB).
    static func appendCalendar(_ grid: PlanningGrid, language: Language, palette: Palette, to html: inout [UInt8]) {
        html += table("width:100%;max-width:420px;margin:0 0 20px;text-align:center").utf8
        html +=
            "<tr><td colspan=\"7\" style=\"padding:0 0 4px;text-align:left;font-size:16px;line-height:22px;font-weight:bold;color:\(textColor)\">"
            .utf8
        UTF8Text.appendEscapingHTML(singleLine(grid.title), to: &html)
        html += "</td></tr>\n<tr style=\"font-size:12px;line-height:20px;color:\(mutedColor);font-weight:bold\">".utf8
        for name in PlanningGrid.weekdayNames(language) {
            html += "<td width=\"14%\">\(name)</td>".utf8
        }
        html += "</tr>\n".utf8
        let colors = Dictionary(uniqueKeysWithValues: PlanningMark.allCases.map { ($0, markColor($0, palette)) })
        for week in grid.weeks {
            html += "<tr style=\"font-size:12px;line-height:22px;color:\(mutedColor)\">".utf8
            for cell in week {
                html += "<td>".utf8
                if let cell { html += String(cell.date.day).utf8 }
                html += "</td>".utf8
            }
            html += "</tr>\n<tr style=\"font-size:20px;line-height:22px;color:\(markColor(.notRunning, palette))\">".utf8
            for cell in week {
                guard let cell else {
                    html += "<td></td>".utf8
                    continue
                }
                let color = colors[cell.mark] ?? mutedColor
                html += (color == markColor(.notRunning, palette) ? "<td>" : "<td style=\"color:\(color)\">").utf8
                html += cell.mark.symbol.utf8
                html += "</td>".utf8
            }
            html += "</tr>\n".utf8
        }
        html += "</table>\n".utf8
    }

    static func markColor(_ mark: PlanningMark, _ palette: Palette) -> String {
        switch mark {
        case .open, .reserved: Palette.contrast(palette.accent, "#ffffff") >= 4.5 ? palette.accent : neutralAccent
        case .closed: "#b42318"
        case .notRunning, .noRights, .outsidePeriod: "#6b7280"
        }
    }

    /// A service whose calendar the email leaves to the portal (beyond ``maxCalendars``).
    static func appendCalendarOmitted(_ grid: PlanningGrid, language: Language, html: Bool, to output: inout [UInt8]) {
        let note = Words(language).calendarOnPortal
        if html {
            output += "<p style=\"margin:0 0 12px;font-size:16px;line-height:24px\"><strong>".utf8
            UTF8Text.appendEscapingHTML(singleLine(grid.title), to: &output)
            output += "</strong> — \(note)</p>\n".utf8
        } else {
            output += singleLine(grid.title) + Array(" — \(note)\n".utf8)
        }
    }

    /// One service's calendar as text: its label, then `planning show`'s grid, indented.
    static func appendCalendarText(_ grid: PlanningGrid, language: Language, to text: inout [UInt8]) {
        text += singleLine(grid.title)
        text.append(0x0A)
        for line in grid.textLines(language: language) {
            text += "  \(line)\n".utf8
        }
        text.append(0x0A)
    }

    /// What the marks of `grids` mean.
    static func appendLegend(_ grids: [PlanningGrid], language: Language, html: Bool, palette: Palette, to output: inout [UInt8])
    {
        let marks = PlanningMark.allCases.filter { mark in grids.contains { $0.marksShown.contains(mark) } }
        guard !marks.isEmpty else { return }
        if !html {
            output += PlanningGrid.legend(marks, language: language).utf8
            output.append(0x0A)
            return
        }
        output += "<p style=\"margin:0 0 16px;font-size:14px;line-height:22px;color:\(mutedColor)\">".utf8
        for (index, mark) in marks.enumerated() {
            if index > 0 { output += " &nbsp; ".utf8 }
            output +=
                "<span style=\"white-space:nowrap\"><span style=\"font-size:18px;color:\(markColor(mark, palette))\">\(mark.symbol)</span> \(mark.meaning(in: language))</span>"
                .utf8
        }
        output += "</p>".utf8
    }

    // MARK: Words and values

    /// The few words the frame writes itself.
    struct Words {
        var phone: String
        var hours: String
        var calendarOnPortal: String

        init(_ language: Language) {
            switch language {
            case .fr:
                phone = "Téléphone : "
                hours = "Horaires : "
                calendarOnPortal = "calendrier sur le portail famille"
            case .en:
                phone = "Phone: "
                hours = "Opening hours: "
                calendarOnPortal = "calendar on the family portal"
            }
        }
    }

    static func table(_ style: String) -> String {
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"\(style)\">\n"
    }

    /// The value as one line of UTF-8 (control characters and line breaks made spaces).
    static func singleLine(_ value: String) -> [UInt8] {
        var bytes: [UInt8] = []
        UTF8Text.appendSingleLine(value, to: &bytes)
        return bytes
    }

    static func present(_ value: String?) -> String? {
        value.flatMap { UTF8Text.hasSingleLineText($0) ? $0 : nil }
    }

    /// `+33474000000` from `04 74 00 00 00` or `+33 4 74…`: digits and a leading plus, the
    /// only characters a `tel:` link gets.
    static func telephoneTarget(_ phone: String) -> String {
        var target = ""
        for character in phone {
            if character.isASCII, character.isNumber {
                target.append(character)
            } else if character == "+", target.isEmpty {
                target.append(character)
            }
        }
        return target.filter(\.isNumber).count >= 3 ? target : ""
    }

    // MARK: Plain text

    /// Long lines of the plain-text part broken at spaces before 76 characters; a list item's
    /// (`- `, `[ ] `) continuation lines are indented under its text, and a line starting with
    /// `→ ` (what to do about a checklist item) is indented under the item above it. Calendar
    /// lines are short and left alone; a word longer than a line (an address) is never cut.
    static func wrap(_ text: [UInt8], width: Int = 76) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 128)
        var lineStart = 0
        while lineStart < text.count {
            let lineEnd = text[lineStart...].firstIndex(of: 0x0A) ?? text.count
            wrapLine(text[lineStart..<lineEnd], width: width, into: &output)
            if lineEnd < text.count { output.append(0x0A) }
            lineStart = lineEnd + 1
        }
        return output
    }

    private static let arrow: [UInt8] = Array("→ ".utf8)

    /// Appends one line, broken at spaces so that no piece is wider than `width` characters
    /// (counted as Unicode scalars: close enough for the Latin text of these emails).
    private static func wrapLine(_ line: ArraySlice<UInt8>, width: Int, into output: inout [UInt8]) {
        let isAction = line.starts(with: arrow)
        let leading = isAction ? 4 : line.prefix { $0 == 0x20 }.count
        if isAction { output.append(contentsOf: [0x20, 0x20, 0x20, 0x20]) }
        guard leading + scalars(line) > width else {
            output.append(contentsOf: line)
            return
        }
        let body = isAction ? line : line.dropFirst(leading)
        let marker =
            body.starts(with: Array("- ".utf8)) || body.starts(with: arrow) ? 2 : body.starts(with: Array("[ ] ".utf8)) ? 4 : 0
        let indent = leading + marker
        if !isAction { output.append(contentsOf: repeatElement(0x20, count: leading)) }
        var column = leading
        var first = true
        for word in body.split(separator: 0x20) {
            let length = scalars(word)
            if !first, column + 1 + length > width {
                output.append(0x0A)
                output.append(contentsOf: repeatElement(0x20, count: indent))
                column = indent
            } else if !first {
                output.append(0x20)
                column += 1
            }
            output.append(contentsOf: word)
            column += length
            first = false
        }
    }

    private static func scalars(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }
}
