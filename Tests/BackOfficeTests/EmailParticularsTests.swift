import Testing

@testable import BackOffice

/// Reading an outbox row's particulars (``EmailParticulars/init(json:email:)``): the shape that
/// migration 029 and the worker write, and a clear refusal of anything else.
@Suite("Email particulars")
struct EmailParticularsTests {
    @Test func nullStandsForAnAbsentOptionalMemberAndOtherMembersAreIgnored() throws {
        let json = """
            {"language": "en", "dossier": "VLF-1", "first_name": "Ada", "last_name": "L", "extra": {"x": [1]},
             "children": [{"first_name": "Bo", "last_name": "L", "services": null},
                          {"first_name": "Cy", "last_name": "L", "services": [
                              {"label": "Cantine", "weekdays": [1, 2.0, 5], "reserved": ["2026-09-01"], "more": true}]}],
             "next_step": null, "shown_from": "2026-09-01"}
            """
        let particulars = try EmailParticulars(json: json, email: 1)
        #expect(
            particulars
                == EmailParticulars(
                    language: "en", dossier: "VLF-1", firstName: "Ada", lastName: "L",
                    children: [
                        .init(firstName: "Bo", lastName: "L", services: nil),
                        .init(
                            firstName: "Cy", lastName: "L",
                            services: [.init(label: "Cantine", weekdays: [1, 2, 5], reserved: ["2026-09-01"])]),
                    ],
                    nextStep: nil, shownFrom: "2026-09-01"))
    }

    /// The reason names where the shape breaks, never what is there: particulars are a family's
    /// personal data, and the reason is logged.
    @Test(arguments: [
        ("[]", "the document is not an object"),
        (#"{"dossier": "D", "first_name": "F", "last_name": "L", "children": []}"#, "language is not a string"),
        (#"{"language": 3, "dossier": "D", "first_name": "F", "last_name": "L", "children": []}"#, "language is not a string"),
        (#"{"language": "fr", "dossier": "D", "first_name": "F", "last_name": "L", "children": {}}"#, "children is not an array"),
        (
            #"{"language": "fr", "dossier": "D", "first_name": "F", "last_name": "L", "children": ["SECRET"]}"#,
            "children[0] is not an object"
        ),
        (
            #"{"language": "fr", "dossier": "D", "first_name": "F", "last_name": "L", "children": [{"first_name": "F", "last_name": "L", "services": [{"label": "C", "weekdays": [1, 1.5], "reserved": []}]}]}"#,
            "children[0].services[0].weekdays[1] is not an integer"
        ),
        (
            #"{"language": "fr", "dossier": "D", "first_name": "F", "last_name": "L", "children": [{"first_name": "F", "last_name": "L", "services": [{"label": "C", "weekdays": [], "reserved": [20260901]}]}]}"#,
            "children[0].services[0].reserved[0] is not a string"
        ),
        (
            #"{"language": "fr", "dossier": "D", "first_name": "F", "last_name": "L", "children": [], "next_step": 7}"#,
            "next_step is not a string"
        ),
        (#"{"language": "fr", "dossier": "SECRET""#, "not valid JSON (byte 38)"),
        (#"{"language": "fr", "SECRET": 1, "SECRET": 2}"#, "not valid JSON (byte "),
    ])
    func aShapeOtherThan029sIsRefusedByWhereItBreaks(json: String, reason: String) {
        #expect {
            _ = try EmailParticulars(json: json, email: 42)
        } throws: { error in
            let description = "\((error as? UnrenderableEmail)?.description ?? "")"
            return description.hasPrefix("email 42 cannot be rendered: its particulars are not what 029 writes: ")
                && description.contains(reason) && !description.contains("SECRET")
        }
    }
}
