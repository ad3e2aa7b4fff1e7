import Foundation
import Inference

/// RULER's `common_words_extraction` generator (`scripts/data/synthetic/common_words_extraction.py`):
/// a numbered list "1. w 2. w …" of distinct words (wonderwords nouns, adjectives and verbs) in
/// which `num_cw` common words appear `freq_cw` times and the others `freq_ucw` times, shuffled,
/// after `num_fewshot` worked examples. Below 4,096 tokens RULER uses smaller repeats (6 and 1; the
/// examples 3 and 1 of 20 words; 10 and 3 of 40 words otherwise). The answer is the common words.
/// RULER falls back to a larger English list (an LFS file) when more words are needed than
/// wonderwords has; lmbench takes adjective-noun pairs then.
struct RulerCommonWords: RulerGenerator {
    static let name = "common_words_extraction"

    struct Arguments: Decodable {
        var freqCw: Int
        var freqUcw: Int
        var numCw: Int
        var numFewshot: Int

        enum CodingKeys: String, CodingKey {
            case freqCw = "freq_cw", freqUcw = "freq_ucw", numCw = "num_cw", numFewshot = "num_fewshot"
        }
    }

    let arguments: Arguments
    let template: String, answerPrefix: String
    let lists: RulerWordLists
    let words: [String]

    init(task: String, arguments: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        guard arguments.numCw >= 1, arguments.freqCw >= 1, arguments.freqUcw >= 1, arguments.numFewshot >= 0 else {
            throw TaskError("\(taskFile.path): freq_cw, freq_ucw and num_cw must be at least 1, num_fewshot at least 0")
        }
        self.arguments = arguments
        template = file.template
        answerPrefix = file.answerPrefix
        lists = try RulerWordLists(besides: taskFile)
        words = Array(Set(lists.nouns + lists.adjectives + lists.verbs)).sorted()
    }

    var parameters: [String: String] {
        ["freq_cw": String(arguments.freqCw), "freq_ucw": String(arguments.freqUcw), "num_cw": String(arguments.numCw),
         "num_fewshot": String(arguments.numFewshot), "word_lists": lists.folder + " (wonderwords nouns, adjectives, verbs; "
         + "adjective-noun pairs beyond \(words.count) words)"]
    }

    func minimumUnits(index: Int) -> Int { arguments.numCw }
    var unitsPerThousandTokens: Int { 60 }

    /// `count` distinct words: a sample of the word list, or of adjective-noun pairs past its size.
    func distinctWords(_ count: Int, _ random: inout SeededRandom) -> [String] {
        if count <= words.count { return RulerText.sample(words.count, count, using: &random).map { words[$0] } }
        var seen = Set<String>(), chosen: [String] = []
        while chosen.count < count {
            let pair = lists.adjectiveNoun(&random)
            if seen.insert(pair).inserted { chosen.append(pair) }
        }
        return chosen
    }

    /// A numbered list of `count` words, the first `num_cw` repeated `common` times, the rest `uncommon` times.
    func example(_ count: Int, common: Int, uncommon: Int, _ random: inout SeededRandom) -> (context: String, answer: [String]) {
        let chosen = distinctWords(count, &random)
        let commonWords = Array(chosen.prefix(arguments.numCw))
        var list = Array([[String]](repeating: commonWords, count: common).joined())
            + Array([[String]](repeating: Array(chosen.dropFirst(arguments.numCw)), count: uncommon).joined())
        list.shuffle(using: &random)
        return (list.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: " "), commonWords)
    }

    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance {
        let short = length < 4096
        let shots = (0..<arguments.numFewshot).map { _ -> String in
            let (context, answer) = short ? example(20, common: 3, uncommon: 1, &random) : example(40, common: 10, uncommon: 3, &random)
            let fields = ["context": context, "query": "", "num_cw": String(arguments.numCw)]
            return fillTemplate(template, fields) + fillTemplate(answerPrefix, fields) + " "
                + answer.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: " ")
        }
        let (context, answer) = short ? example(units, common: 6, uncommon: 1, &random)
            : example(units, common: arguments.freqCw, uncommon: arguments.freqUcw, &random)
        let fields = ["context": context, "query": "", "num_cw": String(arguments.numCw)]
        return RulerInstance(message: shots.joined(separator: "\n") + "\n" + fillTemplate(template, fields),
                             answerPrefix: fillTemplate(answerPrefix, fields), answers: answer, depth: nil)
    }
}

/// RULER's `freq_words_extraction` generator (`scripts/data/synthetic/freq_words_extraction.py`):
/// random 6-letter "coded" words (a vocabulary of (length − tokens to generate) / 50 words) repeated
/// by a Zipf law, the word of rank k ⌊n·k^−α/ζ(α)⌋ times, shuffled; the most frequent is replaced
/// by `...` (noise) and the answer is the next three. RULER grows n in steps until the text is too
/// long; lmbench searches n like the other generators.
struct RulerFrequentWords: RulerGenerator {
    static let name = "freq_words_extraction"

    struct Arguments: Decodable {
        var alpha: Double
        var codedWordlen: Int?
        var vocabSize: Int?

        enum CodingKeys: String, CodingKey {
            case alpha, codedWordlen = "coded_wordlen", vocabSize = "vocab_size"
        }
    }

    let arguments: Arguments
    let template: String, answerPrefix: String
    let maxNewTokens: Int
    let wordLength: Int
    /// ζ(α).
    let zeta: Double

    init(task: String, arguments: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        guard arguments.alpha > 1 else { throw TaskError("\(taskFile.path): alpha must be above 1 (the zeta distribution)") }
        self.arguments = arguments
        template = file.template
        answerPrefix = file.answerPrefix
        maxNewTokens = file.maxNewTokens
        wordLength = arguments.codedWordlen ?? 6
        zeta = Self.zeta(arguments.alpha)
    }

    /// Riemann ζ(s) for s > 1: the first 1,000 terms and the Euler–Maclaurin tail.
    static func zeta(_ s: Double) -> Double {
        let n = 1000.0
        var sum = 0.0
        for k in 1..<1000 { sum += pow(Double(k), -s) }
        return sum + pow(n, 1 - s) / (s - 1) + pow(n, -s) / 2 + s * pow(n, -s - 1) / 12
    }

    var parameters: [String: String] {
        ["alpha": String(arguments.alpha), "coded_wordlen": String(wordLength),
         "vocab_size": arguments.vocabSize.map(String.init) ?? "(length - max_new_tokens) / 50"]
    }

    func minimumUnits(index: Int) -> Int { 0 }
    var unitsPerThousandTokens: Int { 400 }

    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance {
        let size = max(4, arguments.vocabSize ?? (length - maxNewTokens) / 50)
        var seen = Set<String>(), vocabulary: [String] = []
        while vocabulary.count < size {
            let word = String((0..<wordLength).map { _ in Character(Unicode.Scalar(UInt8(97 + Int.random(in: 0..<26, using: &random)))) })
            if seen.insert(word).inserted { vocabulary.append(word) }
        }
        vocabulary.shuffle(using: &random)
        vocabulary[0] = "..."
        var text: [String] = []
        for (rank, word) in vocabulary.enumerated() {
            let count = Int(Double(units) * pow(Double(rank + 1), -arguments.alpha) / zeta)
            text += Array(repeating: word, count: count)
        }
        text.shuffle(using: &random)
        let fields = ["context": text.joined(separator: " "), "query": ""]
        return RulerInstance(message: fillTemplate(template, fields), answerPrefix: fillTemplate(answerPrefix, fields),
                             answers: Array(vocabulary[1..<4]), depth: nil)
    }
}
