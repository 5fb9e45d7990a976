import Dossiers
import Foundation
import Mail
import Testing

/// A template directory in a temporary place: the shipped schema and defaults, plus changes.
private func templateDirectory(
    replacing files: [String: String] = [:], removing removed: [String] = [], label: String = #function
) throws -> String {
    let directory = try Fixtures.temporaryDirectory(label)
    let fileManager = FileManager.default
    for name in try fileManager.contentsOfDirectory(atPath: Fixtures.templatesDirectory)
    where name.hasSuffix(".xml") || name.hasSuffix(".xsd") {
        try fileManager.copyItem(atPath: "\(Fixtures.templatesDirectory)/\(name)", toPath: "\(directory)/\(name)")
    }
    for name in removed { try fileManager.removeItem(atPath: "\(directory)/\(name)") }
    for (name, content) in files {
        let path = "\(directory)/\(name)"
        try fileManager.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try content.write(toFile: path, atomically: true, encoding: .utf8)
    }
    return directory
}

/// Loads `directory` and returns the error it must refuse with.
private func loadError(_ directory: String) -> TemplateError? {
    do {
        _ = try TemplateLibrary(directory: directory)
        return nil
    } catch {
        return error
    }
}

/// A small valid template; line numbers of the body start at 3.
private func template(kind: String = "dossier-processed", lang: String = "fr", text: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <email kind="\(kind)" lang="\(lang)">
    <subject>Dossier <value of="dossier.external_id"/></subject>
    <text>\(text)</text>
    <html><p>Bonjour</p></html>
    </email>
    """
}

@Suite struct TemplateLoaderTests {
    @Test func shippedTemplatesAllLoad() throws {
        #expect(TemplateLibrary.check(directory: Fixtures.templatesDirectory) == [])
        let library = try Fixtures.library()
        #expect(library.files.count == EmailKind.allCases.count * Language.allCases.count)
        for kind in EmailKind.allCases {
            for language in Language.allCases {
                let template = try library.template(kind, language: language, structureCode: "ANY")
                #expect(template.kind == kind)
                #expect(template.language == language)
                #expect(template.file.hasSuffix("/\(kind.rawValue).\(language.rawValue).xml"))
                #expect(template.structureCode == nil)
            }
        }
    }

    @Test func notWellFormedIsRefusedWithFileAndLine() throws {
        let broken = """
            <?xml version="1.0" encoding="UTF-8"?>
            <email kind="dossier-processed" lang="fr">
            <subject>Dossier</subject>
            <text>Bonjour <value of="account.first_name"/>
            <html><p>Bonjour</p></html>
            </email>
            """
        let directory = try templateDirectory(replacing: ["dossier-processed.fr.xml": broken])
        let error = try #require(loadError(directory))
        #expect(error.code == .notWellFormed)
        #expect(error.file == "\(directory)/dossier-processed.fr.xml")
        // libxml2 notices the unclosed <text> at </email>, line 6.
        #expect(error.line == 6)
        #expect(error.reason.contains("text"))
        #expect(error.description.hasPrefix("\(directory)/dossier-processed.fr.xml:6: "))
    }

    @Test func schemaInvalidIsRefusedWithFileAndLine() throws {
        let invalid = template(text: "Bonjour\n<blink>now</blink>\n")
        let directory = try templateDirectory(replacing: [
            "planning-open.en.xml": invalid.replacingOccurrences(
                of: "kind=\"dossier-processed\" lang=\"fr\"", with: "kind=\"planning-open\" lang=\"en\"")
        ])
        let error = try #require(loadError(directory))
        #expect(error.code == .schemaInvalid)
        #expect(error.file == "\(directory)/planning-open.en.xml")
        #expect(error.line == 5)
        #expect(error.reason.contains("blink"))
    }

    @Test func unknownPlaceholderIsRefusedWithFileLineAndName() throws {
        let text = "Bonjour\n<for-each of=\"children\">\n<value of=\"child.shoe_size\"/>\n</for-each>\n"
        let directory = try templateDirectory(replacing: ["dossier-processed.fr.xml": template(text: text)])
        let error = try #require(loadError(directory))
        #expect(error.code == .unknownPlaceholder)
        #expect(error.file == "\(directory)/dossier-processed.fr.xml")
        #expect(error.line == 6)
        #expect(error.reason.contains("child.shoe_size"))
    }

    @Test func loopValueOutsideItsLoopIsRefused() throws {
        let text = "Bonjour <value of=\"child.first_name\"/>"
        let directory = try templateDirectory(replacing: ["dossier-processed.en.xml": template(lang: "en", text: text)])
        let error = try #require(loadError(directory))
        #expect(error.code == .unknownPlaceholder)
        #expect(error.line == 4)
        #expect(error.reason.contains("child.first_name"))
    }

    @Test func unknownListAndDoubleConditionAreRefused() throws {
        let list = try templateDirectory(
            replacing: ["dossier-processed.fr.xml": template(text: "<for-each of=\"pets\">x</for-each>")])
        #expect(loadError(list)?.code == .unknownPlaceholder)
        let condition = try templateDirectory(
            replacing: ["dossier-processed.fr.xml": template(text: "<if outcome=\"validated\" has=\"reasons\">x</if>")])
        #expect(loadError(condition)?.code == .invalidTemplate)
    }

    @Test func kindThatDisagreesWithTheFileNameIsRefused() throws {
        let directory = try templateDirectory(
            replacing: ["planning-open.fr.xml": template(kind: "dossier-processed", text: "x")])
        let error = try #require(loadError(directory))
        #expect(error.code == .invalidTemplate)
        #expect(error.file == "\(directory)/planning-open.fr.xml")
    }

    @Test func missingTemplateIsReported() throws {
        let directory = try templateDirectory(removing: ["planning-open.en.xml"])
        let error = try #require(loadError(directory))
        #expect(error.code == .missingTemplate)
        #expect(error.file == "\(directory)/planning-open.en.xml")

        let partial = try TemplateLibrary(directory: directory, requireAllDefaults: false)
        #expect(throws: TemplateError.self) {
            try partial.template(.planningOpen, language: .en, structureCode: "VLF")
        }
        do {
            _ = try partial.template(.planningOpen, language: .en, structureCode: "VLF")
        } catch {
            #expect(error.code == .missingTemplate)
        }
        #expect(try partial.template(.planningOpen, language: .fr, structureCode: "VLF").language == .fr)
    }

    @Test func structureOverrideIsPreferred() throws {
        let override = template(text: "Texte propre à Lafayette")
            .replacingOccurrences(of: "<subject>Dossier", with: "<subject>Lafayette : dossier")
        let directory = try templateDirectory(replacing: ["VLF/dossier-processed.fr.xml": override])
        let library = try TemplateLibrary(directory: directory)
        #expect(library.files.contains("\(directory)/VLF/dossier-processed.fr.xml"))

        let chosen = try library.template(.dossierProcessed, language: .fr, structureCode: "VLF")
        #expect(chosen.structureCode == "VLF")
        #expect(chosen.file == "\(directory)/VLF/dossier-processed.fr.xml")
        let other = try library.template(.dossierProcessed, language: .fr, structureCode: "OTHER")
        #expect(other.structureCode == nil)
        // The override covers its own kind and language only.
        #expect(try library.template(.dossierProcessed, language: .en, structureCode: "VLF").structureCode == nil)

        let email = try library.render(
            .dossierProcessed, context: Fixtures.context(), messageID: "o@lafayette.example", date: Fixtures.date)
        #expect(email.subject == "Lafayette : dossier VLF-0001")
        // The structure's own words, in the common frame: the contact as signature, the layout around the HTML.
        #expect(email.text == "Texte propre à Lafayette\n\n-- \nVille de Lafayette – Enfance\n")
        #expect(email.html.contains("<table role=\"presentation\""))
    }

    @Test func brokenOverrideIsRefusedToo() throws {
        let directory = try templateDirectory(replacing: ["VLF/planning-open.en.xml": "<email"])
        let error = try #require(loadError(directory))
        #expect(error.code == .notWellFormed)
        #expect(error.file == "\(directory)/VLF/planning-open.en.xml")
        #expect(error.line == 1)
    }

    @Test func checkListsEveryProblem() throws {
        let directory = try templateDirectory(
            replacing: [
                "dossier-processed.fr.xml": "<email>",
                "planning-open.fr.xml": template(kind: "planning-open", text: "<value of=\"nope\"/>"),
            ])
        let codes = TemplateLibrary.check(directory: directory).map(\.code)
        #expect(codes == [.notWellFormed, .unknownPlaceholder])
    }
}
