import ArgumentParser

/// A mistyped command name, caught before ArgumentParser reports it as an unexpected argument,
/// with the nearest command offered instead.
enum CommandSuggestion {
    /// The usage error for the first word of `arguments` that is not a subcommand of the command
    /// it follows (`eticket queu list`: "unknown command `queu` for `eticket`: did you mean
    /// `queue`?"); `nil` when every command word is known.
    static func unknownCommand(in arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = ETicket.self
        var path = ["eticket"]
        for word in arguments {
            let subcommands = command.configuration.subcommands
            // Options and what follows them belong to ArgumentParser; so does `help`.
            guard !subcommands.isEmpty, !word.hasPrefix("-"), word != "help" else { return nil }
            guard let next = subcommands.first(where: { name(of: $0) == word }) else {
                let names = subcommands.map { name(of: $0) }
                let nearest = nearestName(to: word, among: names)
                let commandPath = path.joined(separator: " ")
                // ArgumentParser's own layout for a usage error: Error, Usage, where to read more.
                var message = "Error: unknown command `\(word)` for `\(commandPath)`"
                if let nearest {
                    message += ": did you mean `\(nearest)`?"
                } else {
                    message += ": one of \(names.joined(separator: ", "))"
                }
                return message + "\nUsage: \(commandPath) <subcommand>\n  See '\(commandPath) --help' for more information."
            }
            command = next
            path.append(word)
        }
        return nil
    }

    private static func name(of command: any ParsableCommand.Type) -> String {
        command._commandName
    }

    /// The name closest to `word`, if close enough to be a typo (at most 2 edits, or a third of
    /// the word for longer ones).
    static func nearestName(to word: String, among names: [String]) -> String? {
        var best: String?
        var bestDistance = Int.max
        for name in names {
            let distance = editDistance(word, name)
            if distance < bestDistance {
                best = name
                bestDistance = distance
            }
        }
        return bestDistance <= max(2, word.count / 3) ? best : nil
    }

    /// Levenshtein distance: insertions, deletions and substitutions, each counting one.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
