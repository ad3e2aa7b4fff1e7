import Foundation

/// A usage error: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Any other failure the CLI reports itself: one line, exit status 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The options one command accepts, parsed from its arguments. Every command shares this parser, so
/// `--help`, `--name value`, `--name=value`, flags, positional arguments and unknown-option errors
/// behave the same everywhere.
struct CommandLineOptions {
    struct Option {
        let name: String
        let valueName: String?   // nil for a flag
        let help: String
    }

    let command: String
    let options: [Option]
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []
    private(set) var wantsHelp = false

    init(command: String, options: [Option], arguments: [String]) throws {
        self.command = command
        self.options = options + [Option(name: "help", valueName: nil, help: "Show this help.")]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if argument == "--" { positional += arguments[i...]; break }
            guard argument.hasPrefix("--") else {
                if argument.hasPrefix("-") && argument.count > 1 && Double(argument) == nil {
                    throw UsageError("lmbench \(command): unknown option '\(argument)' (see lmbench \(command) --help)")
                }
                positional.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = self.options.first(where: { $0.name == name }) else {
                throw UsageError("lmbench \(command): unknown option '--\(name)' (see lmbench \(command) --help)")
            }
            if option.name == "help" { wantsHelp = true; continue }
            if option.valueName == nil {
                guard inlineValue == nil else { throw UsageError("lmbench \(command): option '--\(name)' takes no value") }
                flags.insert(name)
            } else if let inlineValue {
                values[name] = inlineValue
            } else {
                // `--samples --db x` means the value was forgotten, not that it is "--db".
                guard i < arguments.count, !arguments[i].hasPrefix("--") else {
                    throw UsageError("lmbench \(command): option '--\(name)' needs a value")
                }
                values[name] = arguments[i]
                i += 1
            }
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// An integer option within `range`.
    func int(_ name: String, default fallback: Int, in range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError("lmbench \(command): --\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// The help text: usage line, description and the options.
    func help(usage: String, summary: String) -> String {
        var lines = ["usage: \(usage)", "", summary, "", "options:"]
        let width = options.map { "--\($0.name)\($0.valueName.map { " " + $0 } ?? "")".count }.max() ?? 0
        for o in options {
            let left = "--\(o.name)\(o.valueName.map { " " + $0 } ?? "")"
            lines.append("  " + left.padding(toLength: width + 2, withPad: " ", startingAt: 0) + o.help)
        }
        return lines.joined(separator: "\n")
    }
}
