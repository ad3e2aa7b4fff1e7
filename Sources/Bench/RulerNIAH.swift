import Foundation
import Inference

/// RULER's `niah` generator (`scripts/data/synthetic/niah.py`): needles "One of the special magic
/// {type_needle_v} for {key} is: {value}." in a noise, essay or needle haystack. Keys and values are
/// adjective-noun words (wonderwords lists), 7-digit numbers or uuid4s; `num_needle_k` keys with
/// `num_needle_v` values each, of which `num_needle_q` keys are asked. Essay needles go between
/// sentences at depths drawn without replacement from 40 even depths; noise and needle haystacks
/// (every filler line a distractor needle) take them at random lines. The template's grammar turns
/// singular when one value is asked, as RULER's does.
struct RulerNIAH: RulerGenerator {
    static let name = "niah"

    struct Arguments: Decodable {
        var typeHaystack: HaystackKind
        var typeNeedleK: Kind
        var typeNeedleV: Kind
        var numNeedleK: Int
        var numNeedleV: Int
        var numNeedleQ: Int

        enum CodingKeys: String, CodingKey {
            case typeHaystack = "type_haystack"
            case typeNeedleK = "type_needle_k", typeNeedleV = "type_needle_v"
            case numNeedleK = "num_needle_k", numNeedleV = "num_needle_v", numNeedleQ = "num_needle_q"
        }
    }

    enum HaystackKind: String, Decodable { case noise, essay, needle }
    enum Kind: String, Decodable { case words, numbers, uuids }

    static let needle = "One of the special magic {type_needle_v} for {key} is: {value}."

    let arguments: Arguments
    let template: String, answerPrefix: String
    /// The type's name as the template says it ("numbers", or "number" when one value is asked).
    let typeInTemplate: String
    let words: RulerWordLists?
    let essay: RulerEssay?

    init(task: String, arguments a: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        var a = a
        guard a.numNeedleK >= 1, a.numNeedleV >= 1, a.numNeedleQ >= 1 else {
            throw TaskError("\(taskFile.path): num_needle_k, num_needle_v and num_needle_q must be at least 1")
        }
        // RULER raises the keys to at least the keys asked.
        a.numNeedleK = max(a.numNeedleK, a.numNeedleQ)
        arguments = a
        var template = file.template, answerPrefix = file.answerPrefix, type = a.typeNeedleV.rawValue
        if a.numNeedleQ * a.numNeedleV == 1 {
            func singular(_ text: String) -> String {
                text.replacingOccurrences(of: "Some", with: "A").replacingOccurrences(of: "are all", with: "is")
                    .replacingOccurrences(of: "are", with: "is").replacingOccurrences(of: "answers", with: "answer")
            }
            template = singular(template)
            answerPrefix = singular(answerPrefix)
            type.removeLast()
        }
        self.template = template
        self.answerPrefix = answerPrefix
        typeInTemplate = type
        let needsWords = a.typeNeedleK == .words || a.typeNeedleV == .words
        words = needsWords ? try RulerWordLists(besides: taskFile) : nil
        essay = a.typeHaystack == .essay ? try RulerEssay(request: request) : nil
    }

    var parameters: [String: String] {
        var p = ["type_haystack": arguments.typeHaystack.rawValue, "type_needle_k": arguments.typeNeedleK.rawValue,
                 "type_needle_v": arguments.typeNeedleV.rawValue, "num_needle_k": String(arguments.numNeedleK),
                 "num_needle_v": String(arguments.numNeedleV), "num_needle_q": String(arguments.numNeedleQ),
                 "needle": Self.needle, "template_used": template, "answer_prefix_used": answerPrefix]
        if let essay { p["haystack"] = essay.source }
        if let words { p["word_lists"] = words.folder + " (wonderwords adjective-noun pairs)" }
        return p
    }

    func minimumUnits(index: Int) -> Int { arguments.typeHaystack == .essay ? 0 : arguments.numNeedleK * arguments.numNeedleV }

    var unitsPerThousandTokens: Int { arguments.typeHaystack == .essay ? 700 : 40 }

    func value(_ kind: Kind, _ random: inout SeededRandom) -> String {
        switch kind {
        case .words: return words!.adjectiveNoun(&random)
        case .numbers: return RulerText.number(&random)
        case .uuids: return RulerText.uuid4(&random)
        }
    }

    func needle(key: String, value: String) -> String {
        fillTemplate(Self.needle, ["type_needle_v": arguments.typeNeedleV.rawValue, "key": key, "value": value])
    }

    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance {
        var keys: [String] = [], values: [[String]] = [], needles: [(text: String, value: String)] = []
        for _ in 0..<arguments.numNeedleK {
            keys.append(value(arguments.typeNeedleK, &random))
            values.append((0..<arguments.numNeedleV).map { _ in value(arguments.typeNeedleV, &random) })
            needles += values.last!.map { (needle(key: keys.last!, value: $0), $0) }
        }
        needles.shuffle(using: &random)

        let context: String, depths: [Double]
        switch arguments.typeHaystack {
        case .essay:
            let placed = RulerText.essay(essay!.first(units), needles: needles.map(\.text), random: &random)
            (context, depths) = (placed.context, placed.depths.map(Double.init))
        case .noise, .needle:
            let lines = arguments.typeHaystack == .noise ? Array(repeating: RulerText.noise, count: units)
                : (0..<units).map { _ in needle(key: value(arguments.typeNeedleK, &random), value: value(arguments.typeNeedleV, &random)) }
            let placed = RulerText.insert(needles.map(\.text), into: lines, random: &random)
            (context, depths) = (placed.lines.joined(separator: "\n"), placed.depths)
        }

        let asked = RulerText.sample(arguments.numNeedleK, arguments.numNeedleQ, using: &random)
        let queries = asked.map { keys[$0] }
        let answers = asked.flatMap { values[$0] }
        let query = queries.count > 1 ? queries.dropLast().joined(separator: ", ") + ", and " + queries.last! : queries[0]
        let fields = ["type_needle_v": typeInTemplate, "context": context, "query": query]
        return RulerInstance(message: fillTemplate(template, fields), answerPrefix: fillTemplate(answerPrefix, fields), answers: answers,
                             depth: needles.firstIndex { $0.value == answers[0] }.map { depths[$0] })
    }
}
