import Foundation
import Mail
import Samples

// A plain loop over TemplateLibrary.render, both kinds in turn, to profile with perf (the benchmark
// runner needs its host process):
//   swift build -c release --product RenderLoop
//   perf record -e cpu-clock -g .build/release/RenderLoop 100000 && perf report --no-children
// Prints the bytes written (so nothing is optimized away) and the time per email.

let library = try Samples.templates()
let context = Samples.emailContext
let date = Samples.date
let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000

let clock = ContinuousClock()
let start = clock.now
var written = 0
for index in 0..<count {
    let kind: EmailKind = index % 2 == 0 ? .dossierProcessed : .planningOpen
    let email = try library.render(kind, context: context, messageID: "bench.1@villefranche.example", date: date)
    written &+= email.bytes.count
}
print("\(written) bytes, \((clock.now - start) / count) per email")
