import Foundation
import Inference

/// RULER's `variable_tracking` generator (`scripts/data/synthetic/variable_tracking.py`): chains
/// `VAR ABCDE = 12345`, `VAR FGHIJ = VAR ABCDE `, … (5-letter upper-case names, `num_hops` hops)
/// with their lines at random positions, in order, among noise lines. One in-context example comes
/// first, as RULER always adds it: a chain of 3-letter names with value 12345 in noise sized to 500
/// tokens, followed by its answer; each sample renames its variables and value at random. The
/// answer is every variable of the first chain.
struct RulerVariableTracking: RulerGenerator {
    static let name = "variable_tracking"

    struct Arguments: Decodable {
        var typeHaystack: String
        var numChains: Int
        var numHops: Int

        enum CodingKeys: String, CodingKey {
            case typeHaystack = "type_haystack", numChains = "num_chains", numHops = "num_hops"
        }
    }

    /// RULER's budget for the example, in tokens.
    static let exampleTokens = 500

    let arguments: Arguments
    let template: String, answerPrefix: String
    /// The example before renaming, ending in its answer.
    let example: String

    init(task: String, arguments: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        guard arguments.typeHaystack == "noise" else { throw TaskError("\(taskFile.path): variable_tracking supports type_haystack noise") }
        guard arguments.numChains >= 1, arguments.numHops >= 1 else {
            throw TaskError("\(taskFile.path): num_chains and num_hops must be at least 1")
        }
        self.arguments = arguments
        let template = file.template, answerPrefix = file.answerPrefix
        self.template = template
        self.answerPrefix = answerPrefix
        // The example is the task's own text (without the chat template) with the answer appended,
        // sized like a prompt with nothing to generate.
        let hops = min(10, arguments.numHops)
        func build(_ noise: Int) -> (text: String, answer: [String]) {
            var random = SeededRandom(seed: request.seed, [RulerText.salt(task + "/example")])
            let (context, value, variables) = Self.chains(noise: noise, chains: arguments.numChains, hops: hops, letters: 3,
                                                          example: true, random: &random)
            let fields = ["context": context, "query": value, "num_v": String(hops + 1)]
            return (fillTemplate(template, fields) + fillTemplate(answerPrefix, fields), variables)
        }
        let noise = RulerText.largestFitting(from: hops + 1, estimate: 15) {
            tokenizer.encode(build($0).text, addSpecial: false, parseSpecial: false).count <= Self.exampleTokens
        }
        let built = build(noise)
        example = built.text + " " + built.answer.joined(separator: " ") + "\n"
    }

    var parameters: [String: String] {
        ["type_haystack": arguments.typeHaystack, "num_chains": String(arguments.numChains), "num_hops": String(arguments.numHops),
         "haystack": "noise", "example": example]
    }

    /// RULER draws the first chain's lines among the noise lines, so there are at least as many.
    func minimumUnits(index: Int) -> Int { arguments.numHops + 1 }
    var unitsPerThousandTokens: Int { 40 }

    /// Chains among `noise` noise lines: the context, the first chain's value and its variables.
    static func chains(noise: Int, chains count: Int, hops: Int, letters: Int, example: Bool,
                       random: inout SeededRandom) -> (context: String, value: String, variables: [String]) {
        func name() -> String { String((0..<letters).map { _ in Character(Unicode.Scalar(UInt8(65 + Int.random(in: 0..<26, using: &random)))) }) }
        var names: [String] = []
        var seen = Set<String>()
        while names.count < count * (hops + 1) {
            let n = name()
            if seen.insert(n).inserted { names.append(n) }
        }
        var lines = Array(repeating: RulerText.noise, count: noise)
        var firstValue = ""
        for c in 0..<count {
            let variables = Array(names[c * (hops + 1)..<(c + 1) * (hops + 1)])
            let value = example ? "12345" : String(Int.random(in: 10000..<99999, using: &random))
            if c == 0 { firstValue = value }
            // RULER writes each hop with a trailing space.
            let chain = ["VAR \(variables[0]) = \(value)"] + (0..<hops).map { "VAR \(variables[$0 + 1]) = VAR \(variables[$0]) " }
            let positions = RulerText.sample(lines.count, chain.count, using: &random).sorted()
            for (j, position) in positions.enumerated() { lines.insert(chain[j], at: position + j) }
        }
        let context = lines.joined(separator: "\n").replacingOccurrences(of: ". \n", with: ".\n")
        return (context, firstValue, Array(names[0...hops]))
    }

    /// The example with its variables (its answer's last words) renamed and its value redrawn.
    func renamedExample(_ random: inout SeededRandom) -> String {
        var text = example
        for variable in example.split(whereSeparator: \.isWhitespace).suffix(min(10, arguments.numHops) + 1) {
            let renamed = String((0..<variable.count).map { _ in Character(Unicode.Scalar(UInt8(65 + Int.random(in: 0..<26, using: &random)))) })
            text = text.replacingOccurrences(of: String(variable), with: renamed)
        }
        return text.replacingOccurrences(of: "12345", with: String(Int.random(in: 10000..<99999, using: &random)))
    }

    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance {
        let shot = renamedExample(&random)
        let (context, value, variables) = Self.chains(noise: units, chains: arguments.numChains, hops: arguments.numHops, letters: 5,
                                                      example: false, random: &random)
        let fields = ["context": context, "query": value, "num_v": String(arguments.numHops + 1)]
        let lines = context.split(separator: "\n", omittingEmptySubsequences: false)
        let first = lines.firstIndex { $0.hasPrefix("VAR \(variables[0]) = ") } ?? 0
        return RulerInstance(message: shot + "\n" + fillTemplate(template, fields), answerPrefix: fillTemplate(answerPrefix, fields),
                             answers: variables, depth: lines.count > 1 ? 100 * Double(first) / Double(lines.count - 1) : 0)
    }
}
