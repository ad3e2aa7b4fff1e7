import Foundation
import Inference

/// The fields every RULER task file has (`tasks/ruler/NAME.json`) beside its generator's `args`:
/// RULER's template (`scripts/data/synthetic/constants.py`) and answer prefix, its
/// tokens_to_generate and its metric (`scripts/eval/synthetic/constants.py`).
struct RulerTaskFile: Decodable {
    var template: String
    var answerPrefix: String
    var maxNewTokens: Int
    var metric: String

    enum CodingKeys: String, CodingKey {
        case template, metric
        case answerPrefix = "answer_prefix"
        case maxNewTokens = "max_new_tokens"
    }
}

/// What one generator makes of a sample at a given haystack size: the task text (RULER's template
/// filled, few-shot examples included) and the answer prefix, kept apart so a chat template puts
/// the prefix after the assistant's header, as RULER's `prepare.py` appends it after the model template.
struct RulerInstance {
    var message: String
    var answerPrefix: String
    var answers: [String]
    /// Where the first answer sits in the haystack, in percent (nil where the task has no position).
    var depth: Double?
}

/// A RULER generator family (niah, variable_tracking, …): decodes its `args`, and builds a sample's
/// text for any number of haystack units (lines, words or documents). Sizing is shared (`RulerTask`).
protocol RulerGenerator {
    associatedtype Arguments: Decodable
    /// The `generator` value of its task files: RULER's generator name.
    static var name: String { get }
    init(task: String, arguments: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws
    /// What shapes the prompts beyond the template (haystack, needle types, word lists).
    var parameters: [String: String] { get }
    /// The fewest haystack units a sample can have (the needles alone, the gold documents).
    func minimumUnits(index: Int) -> Int
    /// A rough number of units per 1,000 prompt tokens, where the search for the size starts.
    var unitsPerThousandTokens: Int { get }
    /// Sample `index` of `length` with `units` haystack units. Everything random is drawn from
    /// `random`, which the caller seeds afresh for every size tried, so the prompt kept is one measured.
    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance
    /// Whether `--data` is the generator's source data (qa's SQuAD / HotpotQA) rather than files
    /// RULER's prepare.py wrote.
    static var readsData: Bool { get }
}

extension RulerGenerator {
    static var readsData: Bool { false }
}

struct RulerTaskArguments<Arguments: Decodable>: Decodable { var args: Arguments }

/// A generated RULER task (benchmark-formats §2): a generator's text sized in the model's own
/// tokens so that the whole templated prompt (chat template and answer prefix included) plus the
/// task's tokens to generate is at most the length, as RULER sizes `input` + tokens_to_generate. The
/// haystack size is found per sample by a search over the haystack units, each size built and
/// tokenized whole, so the prompt kept is exactly one that was measured (RULER searches once per
/// length and backs off when a sample overflows). Seeded per (task, length, sample index).
final class RulerTask<Generator: RulerGenerator>: BenchmarkTask, TaskGenerator {
    static var name: String { Generator.name }

    let name: String
    var family: String { RulerSuiteTask.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let metric: Metric
    let file: RulerTaskFile
    let generator: Generator
    private let format: PromptFormat

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        // Files RULER's prepare.py wrote for this task are scored as it, not generated.
        if request.dataPath != nil && !Generator.readsData {
            return try RulerLoadedTask(name: file.name, catalog: catalog, request: request, tokenizer: tokenizer, only: file.name)
        }
        return try RulerTask(file, request: request, tokenizer: tokenizer)
    }

    init(_ taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        name = taskFile.name
        self.request = request
        self.tokenizer = tokenizer
        file = try taskFile.decode(RulerTaskFile.self)
        metric = try MetricRegistry.named(file.metric, in: taskFile.path)
        if request.depths != nil {
            throw SpecError("--depths: \(name) draws its own depths (RULER: 40 even depths in essays, random lines in noise)")
        }
        let arguments = try taskFile.decode(RulerTaskArguments<Generator.Arguments>.self).args
        generator = try Generator(task: name, arguments: arguments, file: file, taskFile: taskFile, request: request, tokenizer: tokenizer)
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        // Fail before any engine runs when the shortest length cannot hold the smallest prompt.
        if let shortest = request.lengths.min() { _ = try sized(length: shortest, index: 0) }
    }

    var parameters: [String: String] {
        var p = generator.parameters
        p["template"] = file.template
        p["answer_prefix"] = file.answerPrefix
        p["max_new_tokens"] = String(file.maxNewTokens)
        p["metric"] = metric.name
        p["samples"] = String(request.samplesPerCell)
        p["lengths"] = request.lengths.map(String.init).joined(separator: ",")
        p["sizing"] = "templated prompt + max_new_tokens <= length in model tokens, haystack units searched per sample"
        return p
    }

    /// The lengths × samples grid; a sample's prompt is at most its length less the tokens to generate.
    func plan() throws -> [PlannedSample] {
        PlannedSample.grid(task: name, request: request, depths: nil, maxNewTokens: file.maxNewTokens, metric: metric).map {
            var planned = $0
            planned.promptTokens = planned.length - file.maxNewTokens
            return planned
        }
    }

    /// The largest haystack whose whole prompt fits `length`, and its tokens.
    func sized(length: Int, index: Int) throws -> (instance: RulerInstance, tokens: [Int32]) {
        let budget = length - file.maxNewTokens
        var tried: [Int: (instance: RulerInstance, tokens: [Int32])] = [:]
        func build(_ units: Int) throws -> (instance: RulerInstance, tokens: [Int32]) {
            if let known = tried[units] { return known }
            var random = SeededRandom(seed: request.seed, [RulerText.salt(name), length, index])
            let instance = try generator.instance(units: units, length: length, index: index, random: &random)
            let built = (instance, format.tokens(message: instance.message, answerPrefix: instance.answerPrefix))
            tried[units] = built
            return built
        }
        let low = generator.minimumUnits(index: index)
        let smallest = try build(low)
        guard smallest.tokens.count <= budget else {
            throw SpecError("--lengths: \(length) tokens is too short for \(name) (its smallest prompt is \(smallest.tokens.count) tokens "
                            + "+ \(file.maxNewTokens) to generate)")
        }
        let units = try RulerText.largestFitting(from: low, estimate: low + generator.unitsPerThousandTokens * budget / 1000) {
            try build($0).tokens.count <= budget
        }
        return try build(units)
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let (instance, tokens) = try sized(length: planned.length, index: planned.index)
        var sample = Sample(key: planned.key, id: "\(name)-\(planned.length)-\(planned.index)", dataset: name,
                            prompt: format.text(message: instance.message, answerPrefix: instance.answerPrefix), promptTokens: tokens,
                            answers: instance.answers, maxNewTokens: file.maxNewTokens, length: planned.length, lengthUnit: .tokens,
                            depth: instance.depth, metric: metric)
        sample.answerPrefix = instance.answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}

/// RULER's shared haystack and needle material (`scripts/data/synthetic/*.py`).
enum RulerText {
    /// The noise haystack's line (niah, vt), repeated once per line.
    static let noise = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

    /// `np.round(np.linspace(0, 100, 40))`: the depths essay needles are drawn from, without replacement.
    static let depths: [Int] = (0..<40).map { Int((Double($0) * 100 / 39).rounded(.toNearestOrEven)) }

    /// The largest size that `fits`, given that `low` does: from the estimate, grown until a size
    /// does not fit, then bisected (RULER's binary search over haystack units).
    static func largestFitting(from low: Int, estimate: Int, fits: (Int) throws -> Bool) rethrows -> Int {
        var low = low, high = max(low + 1, estimate)
        while try fits(high) {
            low = high
            high += max(1, high / 4)
        }
        while high - low > 1 {
            let middle = (low + high) / 2
            if try fits(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// A stable number for a task name (Swift's `hashValue` changes per process), to seed its samples.
    static func salt(_ name: String) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: hash >> 1)
    }

    /// `random.sample(range(n), k)`: k distinct integers below n, in the order drawn.
    static func sample(_ n: Int, _ k: Int, using random: inout SeededRandom) -> [Int] {
        precondition(k <= n, "cannot draw \(k) of \(n)")
        var chosen: [Int] = []
        var seen = Set<Int>()
        // Rejection for few of many (needle positions), a partial shuffle otherwise.
        if k * 4 < n {
            while chosen.count < k {
                let i = Int.random(in: 0..<n, using: &random)
                if seen.insert(i).inserted { chosen.append(i) }
            }
            return chosen
        }
        var pool = Array(0..<n)
        for i in 0..<k {
            pool.swapAt(i, Int.random(in: i..<n, using: &random))
            chosen.append(pool[i])
        }
        return chosen
    }

    /// A 7-digit number (`random.randint(10**6, 10**7 - 1)`).
    static func number(_ random: inout SeededRandom) -> String { String(Int.random(in: 1_000_000...9_999_999, using: &random)) }

    /// `uuid.UUID(int=random.getrandbits(128), version=4)`: 128 random bits with the version and
    /// variant bits set, lower-case 8-4-4-4-12.
    static func uuid4(_ random: inout SeededRandom) -> String {
        var bytes = (0..<2).flatMap { _ -> [UInt8] in
            let v = random.next()
            return (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
        }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        var parts: [Substring] = []
        var start = hex.startIndex
        for size in [8, 4, 4, 4, 12] {
            let end = hex.index(start, offsetBy: size)
            parts.append(hex[start..<end])
            start = end
        }
        return parts.joined(separator: "-")
    }

    /// Words as RULER cuts its essay: whitespace collapsed, split at spaces.
    static func words(_ text: String) -> [String] { text.split(whereSeparator: \.isWhitespace).map(String.init) }

    /// Abbreviations a sentence does not end at (nltk's Punkt learns these; this is a fixed list).
    private static let abbreviations: Set<String> = ["mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "e.g", "i.e",
                                                       "no", "vol", "mt", "gen", "col", "capt", "lt", "rev", "hon"]

    /// The essay's words grouped into sentences, standing in for nltk's `sent_tokenize`: a sentence
    /// ends at a word ending in `.`, `!` or `?` (closing quotes and brackets after it allowed) that
    /// is not a known abbreviation or a single letter.
    static func sentences(_ words: ArraySlice<String>) -> [ArraySlice<String>] {
        var result: [ArraySlice<String>] = []
        var start = words.startIndex
        for i in words.indices {
            var word = Substring(words[i])
            while let last = word.last, "\"')]’”".contains(last) { word = word.dropLast() }
            guard let end = word.last, ".!?".contains(end) else { continue }
            let stem = word.dropLast().lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "\"'(["))
            if end == ".", abbreviations.contains(stem) || (stem.count == 1 && stem.first!.isLetter) { continue }
            result.append(words[start...i])
            start = i + 1
        }
        if start < words.endIndex { result.append(words[start...]) }
        return result
    }

    /// Needles put between the sentences of `words` at essay depths drawn without replacement
    /// (RULER's essay insertion); the i-th needle goes to the i-th smallest depth. Returns the
    /// context (sentences joined by spaces) and the depth of each needle.
    static func essay(_ words: ArraySlice<String>, needles: [String], random: inout SeededRandom) -> (context: String, depths: [Int]) {
        let sentences = sentences(words)
        let drawn = sample(depths.count, needles.count, using: &random).map { depths[$0] }.sorted()
        let positions = [0] + drawn.map { sentences.count * $0 / 100 } + [sentences.count]
        var pieces: [String] = []
        for i in 1..<positions.count {
            pieces.append(sentences[positions[i - 1]..<positions[i]].map { $0.joined(separator: " ") }.joined(separator: " "))
            if i - 1 < needles.count { pieces.append(needles[i - 1]) }
        }
        return (pieces.joined(separator: " "), drawn)
    }
}

/// Lines with needles inserted at distinct random positions (RULER's noise and needle haystacks):
/// `random.sample(range(lines), k)`, inserted from the last position back.
extension RulerText {
    static func insert(_ needles: [String], into lines: [String], random: inout SeededRandom) -> (lines: [String], depths: [Double]) {
        var lines = lines
        let positions = sample(lines.count, needles.count, using: &random).sorted(by: >)
        for (position, needle) in zip(positions, needles) { lines.insert(needle, at: position) }
        let total = Double(max(1, lines.count - needles.count))
        return (lines, positions.map { 100 * Double($0) / total })
    }
}

/// An essay haystack: the text of `--haystack` (RULER uses Paul Graham essays, which lmbench does not
/// ship), or, without it, lmbench's generated prose from the run seed. Samples take its first words
/// and repeat it when it is shorter, as RULER does.
final class RulerEssay {
    let source: String
    private var words: [String]
    private var prose: ProseParagraphs?

    init(request: TaskRequest) throws {
        if let path = request.haystackPath {
            words = try RulerText.words(Haystack.files(at: path).map { try Haystack.read($0) }.joined(separator: " "))
            guard !words.isEmpty else { throw TaskError("\(path): the haystack text is empty") }
            source = path
        } else {
            words = []
            prose = ProseParagraphs(seed: request.seed, [0x5255_4C45])
            source = "generated prose (seed \(request.seed)), not RULER's Paul Graham essays: pass --haystack FILE|DIR"
        }
    }

    /// The first `count` words, repeating the text if it is shorter.
    func first(_ count: Int) -> ArraySlice<String> {
        if var prose {
            while words.count < count, let paragraph = prose.next() { words += RulerText.words(paragraph) }
            self.prose = prose
        }
        if count <= words.count { return words[..<count] }
        return ArraySlice((0..<count).map { words[$0 % words.count] })
    }
}

/// The wonderwords lists RULER draws words from, read from `words/` beside the task file.
struct RulerWordLists {
    let adjectives: [String], nouns: [String], verbs: [String]
    let folder: String

    init(besides taskFile: TaskFile) throws {
        let folder = URL(fileURLWithPath: taskFile.path).deletingLastPathComponent().appendingPathComponent("words").path
        self.folder = folder
        adjectives = try Self.list(folder + "/adjectivelist.txt")
        nouns = try Self.list(folder + "/nounlist.txt")
        verbs = try Self.list(folder + "/verblist.txt")
    }

    /// A list's words, made unique and sorted as RULER does (wonderwords strips each line's end).
    private static func list(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the word list") }
        let words = Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) })
        return words.filter { !$0.isEmpty }.sorted()
    }

    /// `random.choice` over RULER's sorted adjective-noun pairs: a uniform adjective and noun.
    func adjectiveNoun(_ random: inout SeededRandom) -> String {
        adjectives.randomElement(using: &random)! + "-" + nouns.randomElement(using: &random)!
    }
}
