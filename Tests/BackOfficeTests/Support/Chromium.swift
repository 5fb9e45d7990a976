import Foundation
import TestSupport

/// Headless Chromium (Debian's `chromium`, installed by `.ci/run`), to look at emails the way a
/// mail client's HTML engine lays them out.
enum Chromium {
    static let executable: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var isAvailable: Bool { executable != nil }

    /// What the layout engine measured of one email at one width.
    struct Measurement: Decodable {
        var width: Int
        /// The document's width and the viewport's: wider means horizontal scrolling.
        var scrollWidth: Int
        var clientWidth: Int
        /// The content's height, for a screenshot of the whole message.
        var contentHeight: Int
        /// Height and right edge of each button (a link in a `bgcolor` cell).
        var buttons: [Box]
        var images: [String]
        var scripts: Int
        /// Elements carrying an event-handler attribute.
        var handlers: Int
        /// Whether each needle was found in the text a reader sees.
        var shown: [Bool]

        struct Box: Decodable {
            var height: Double
            var width: Double
            var right: Double
        }
    }

    /// Lays every `(html, width)` out in one Chromium run, each in an iframe of that width (a
    /// headless window has a minimum width above a phone's, an iframe has not), and measures it
    /// after the load event. `needles` are looked for in each document's visible text.
    static func measure(_ pages: [(html: String, width: Int)], needles: [String]) throws -> [Measurement] {
        let frames = pages.map { page in
            "<iframe width=\"\(page.width)\" height=\"20000\" style=\"border:0;display:block\" srcdoc=\""
                + escapeAttribute(page.html) + "\"></iframe>"
        }.joined(separator: "\n")
        let needlesJSON = String(decoding: try JSONEncoder().encode(needles), as: UTF8.self)
            .replacingOccurrences(of: "<", with: "\\u003c")
        let script = """
            <script>
            window.addEventListener('load', function () {
              var needles = \(needlesJSON);
              var results = [].map.call(document.querySelectorAll('iframe'), function (frame) {
                var d = frame.contentDocument, e = d.documentElement;
                var text = d.body.innerText;
                return {
                  width: frame.clientWidth, scrollWidth: e.scrollWidth, clientWidth: e.clientWidth,
                  contentHeight: Math.ceil(d.body.getBoundingClientRect().height),
                  buttons: [].map.call(d.querySelectorAll('td[bgcolor] > a'), function (a) {
                    var box = a.getBoundingClientRect();
                    return { height: box.height, width: box.width, right: box.right };
                  }),
                  images: [].map.call(d.images, function (image) { return image.getAttribute('src'); }),
                  scripts: d.scripts.length,
                  handlers: [].filter.call(d.querySelectorAll('*'), function (element) {
                    return [].some.call(element.attributes, function (a) { return /^on/i.test(a.name); });
                  }).length,
                  shown: needles.map(function (needle) { return text.indexOf(needle) >= 0; })
                };
              });
              var out = document.createElement('pre');
              out.id = 'measurements';
              out.textContent = btoa(unescape(encodeURIComponent(JSON.stringify(results))));
              document.body.appendChild(out);
            });
            </script>
            """
        let page = TestFiles.directory.appendingPathComponent("measure-\(UUID().uuidString).html")
        try ("<!DOCTYPE html><html><body style=\"margin:0\">\n\(frames)\n\(script)\n</body></html>")
            .write(to: page, atomically: true, encoding: .utf8)
        // Virtual time: the load event is waited for without waiting on the wall clock.
        let dom = try run(["--window-size=1200,800", "--virtual-time-budget=30000", "--dump-dom", page.absoluteString])
        guard let start = dom.range(of: "<pre id=\"measurements\">"),
            let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex),
            let json = Data(base64Encoded: String(dom[start.upperBound..<end.lowerBound]))
        else { throw ChromiumError(reason: "no measurements in the dumped DOM: \(dom.suffix(500))") }
        return try JSONDecoder().decode([Measurement].self, from: json)
    }

    /// A PNG of `file` in a `width` × `height` window.
    static func screenshot(_ file: URL, width: Int, height: Int, to png: URL) throws {
        try? FileManager.default.removeItem(at: png)
        _ = try run(["--hide-scrollbars", "--window-size=\(width),\(height)", "--screenshot=\(png.path)", file.absoluteString])
        guard FileManager.default.fileExists(atPath: png.path) else {
            throw ChromiumError(reason: "no screenshot written to \(png.path)")
        }
    }

    /// Runs Chromium to its exit with a profile of its own and no network (host names resolve to
    /// nothing, so no resource could load even if one slipped into an email); returns stdout.
    static func run(_ arguments: [String]) throws -> String {
        guard let executable else { throw ChromiumError(reason: "chromium is not installed") }
        let work = TestFiles.directory.appendingPathComponent("chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let output = work.appendingPathComponent("stdout")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            [
                "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
                "--user-data-dir=\(work.appendingPathComponent("profile").path)",
                "--host-resolver-rules=MAP * ~NOTFOUND",
            ] + (getuid() == 0 ? ["--no-sandbox"] : []) + arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ChromiumError(reason: "chromium exited \(process.terminationStatus) for \(arguments.joined(separator: " "))")
        }
        return try String(contentsOf: output, encoding: .utf8)
    }

    static func escapeAttribute(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

struct ChromiumError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
