import Foundation
import GGUF
import Inference

/// `lmbench tokenize`: the token ids of a text, as a JSON array.
enum TokenizeCommand {
    static let usage = "lmbench tokenize [--model PATH] [--no-bos] [--special] TEXT"
    static let summary = "Prints the token ids of TEXT as a JSON array, as the model's tokenizer splits it."
    static let options: [CommandLineOptions.Option] = [
        ModelLocation.modelOption,
        .init(name: "no-bos", valueName: nil, help: "Do not add the beginning-of-sequence token."),
        .init(name: "special", valueName: nil, help: "Parse control tokens written in the text (e.g. <start_of_turn>)."),
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "tokenize", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.count == 1 else { throw UsageError("lmbench tokenize: expected one TEXT argument (see lmbench tokenize --help)") }
        // Only the tokenizer is needed, not the model's weights.
        let path = ModelLocation.path(o)
        guard FileManager.default.fileExists(atPath: path) else { throw CommandError("\(path): model file not found (`lmbench model list` shows the known models and how to fetch them)") }
        let tokenizer = try TokenizerFactory.make(from: try GGUFFile(path: path))
        let ids = tokenizer.encode(o.positional[0], addSpecial: !o.flag("no-bos"), parseSpecial: o.flag("special"))
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}

