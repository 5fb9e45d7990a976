import Foundation
import Testing

/// The C libraries stay in a tiny corner: the module that wraps one (Postgres for libpq, SMTP for
/// libcurl, Mail for libxml2) imports it `internal`, so that none of its C types can reach a public
/// API, and a module importing ours never sees `curl_easy_perform` or `PQexec`.
@Suite("C modules are imported internal")
struct CModulesStayInternalTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    @Test(arguments: ["CLibCurl", "CLibPQ", "CLibXML2"])
    func everyImportOfTheCModuleIsInternal(module: String) throws {
        let files = try #require(FileManager.default.enumerator(atPath: Self.sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        var importers: [String] = []
        for file in files {
            let text = try String(contentsOf: Self.sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasSuffix("import \(module)") {
                importers.append(file)
                #expect(line == "internal import \(module)", "\(file): \(line)")
            }
        }
        #expect(!importers.isEmpty, "no file imports \(module): the test reads the wrong folder")
    }
}
