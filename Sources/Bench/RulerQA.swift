import Foundation
import Inference

/// RULER's `qa` generator (`scripts/data/synthetic/qa.py`) over the public dev files given with
/// `--data`: SQuAD v2 (`{data: [{paragraphs: [{context, qas: [{question, answers: [{text}],
/// is_impossible}]}]}]}`, answerable questions only) or HotpotQA distractor
/// (`[{question, answer, context: [[title, [sentences]]]}]`). Sample i asks the i-th question (as
/// RULER does, in file order) over its gold paragraphs, then paragraphs of the same article (SQuAD),
/// then random others, shuffled and written "Document {i}:\n{document}"; the haystack units are
/// documents. Scored by string_match_part: any reference answer in the output.
struct RulerQA: RulerGenerator {
    static let name = "qa"
    static var readsData: Bool { true }

    struct Arguments: Decodable {
        var dataset: Dataset
    }

    enum Dataset: String, Decodable { case squad, hotpotqa }

    struct Question {
        var query: String
        var answers: [String]
        var gold: [Int]
        /// Other paragraphs of the same article (SQuAD), taken before random ones.
        var related: [Int]
    }

    let dataset: Dataset
    let path: String
    let template: String, answerPrefix: String
    let documents: [String]
    let questions: [Question]

    init(task: String, arguments: Arguments, file: RulerTaskFile, taskFile: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        dataset = arguments.dataset
        let expected = dataset == .squad ? "a SQuAD v2 dev JSON file, e.g. dev-v2.0.json"
            : "a HotpotQA dev JSON file, e.g. hotpot_dev_distractor_v1.json"
        guard let path = request.dataPath else { throw SpecError("lmbench run \(task): --data FILE is required (\(expected))") }
        self.path = path
        template = file.template
        answerPrefix = file.answerPrefix
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONSerialization.jsonObject(with: data) else {
            throw TaskError("\(path): not a JSON file (\(task) reads \(expected))")
        }
        (documents, questions) = dataset == .squad ? try Self.squad(json, path: path) : try Self.hotpotQA(json, path: path)
        guard !questions.isEmpty else { throw TaskError("\(path): no questions to ask (\(task) reads \(expected))") }
    }

    /// Unique documents in sorted order, as RULER indexes them.
    private static func index(_ texts: [String]) -> (documents: [String], ids: [String: Int]) {
        let documents = Array(Set(texts)).sorted()
        return (documents, Dictionary(uniqueKeysWithValues: documents.enumerated().map { ($0.element, $0.offset) }))
    }

    static func squad(_ json: Any, path: String) throws -> ([String], [Question]) {
        func bad(_ why: String) -> TaskError { TaskError("\(path): not SQuAD v2 (\(why))") }
        guard let articles = (json as? [String: Any])?["data"] as? [[String: Any]] else { throw bad("no 'data' list") }
        var paragraphsOf: [[[String: Any]]] = []
        for article in articles {
            guard let paragraphs = article["paragraphs"] as? [[String: Any]] else { throw bad("an article without 'paragraphs'") }
            paragraphsOf.append(paragraphs)
        }
        let contexts = try paragraphsOf.flatMap { try $0.map { p -> String in
            guard let context = p["context"] as? String else { throw bad("a paragraph without 'context'") }
            return context
        } }
        let (documents, ids) = index(contexts)
        var questions: [Question] = []
        for paragraphs in paragraphsOf {
            let article = paragraphs.map { ids[$0["context"] as! String]! }
            for p in paragraphs {
                let gold = ids[p["context"] as! String]!
                for qa in p["qas"] as? [[String: Any]] ?? [] where !(qa["is_impossible"] as? Bool ?? false) {
                    guard let query = qa["question"] as? String, let answers = qa["answers"] as? [[String: Any]] else {
                        throw bad("a question without 'question' or 'answers'")
                    }
                    questions.append(Question(query: query, answers: answers.compactMap { $0["text"] as? String }, gold: [gold],
                                              related: article.filter { $0 != gold }))
                }
            }
        }
        return (documents, questions)
    }

    static func hotpotQA(_ json: Any, path: String) throws -> ([String], [Question]) {
        func bad(_ why: String) -> TaskError { TaskError("\(path): not HotpotQA (\(why))") }
        guard let records = json as? [[String: Any]] else { throw bad("not a list of questions") }
        var texts: [[String]] = []
        for record in records {
            guard let context = record["context"] as? [[Any]] else { throw bad("a question without 'context'") }
            texts.append(try context.map { pair in
                guard pair.count == 2, let title = pair[0] as? String, let sentences = pair[1] as? [String] else {
                    throw bad("a context entry that is not [title, [sentences]]")
                }
                return title + "\n" + sentences.joined()
            })
        }
        let (documents, ids) = index(texts.flatMap { $0 })
        let questions = try zip(records, texts).map { record, docs -> Question in
            guard let query = record["question"] as? String, let answer = record["answer"] as? String else {
                throw bad("a question without 'question' or 'answer'")
            }
            return Question(query: query, answers: [answer], gold: docs.map { ids[$0]! }, related: [])
        }
        return (documents, questions)
    }

    var parameters: [String: String] {
        ["dataset": dataset.rawValue, "data": path, "documents": String(documents.count), "questions": String(questions.count),
         "document_format": "Document {i}:\\n{document}"]
    }

    func question(_ index: Int) -> Question { questions[index % questions.count] }
    func minimumUnits(index: Int) -> Int { question(index).gold.count }
    var unitsPerThousandTokens: Int { 6 }

    func instance(units: Int, length: Int, index: Int, random: inout SeededRandom) throws -> RulerInstance {
        let q = question(index)
        var chosen: [Int]
        if units < documents.count {
            let extra = units - q.gold.count
            if extra > q.related.count {
                let taken = Set(q.gold + q.related)
                let others = (0..<documents.count).filter { !taken.contains($0) }
                let drawn = RulerText.sample(others.count, min(others.count, extra - q.related.count), using: &random)
                chosen = q.gold + q.related + drawn.map { others[$0] }
            } else {
                chosen = q.gold + RulerText.sample(q.related.count, extra, using: &random).map { q.related[$0] }
            }
        } else {
            chosen = (0..<units).map { $0 % documents.count }
        }
        chosen.shuffle(using: &random)
        let context = chosen.enumerated().map { "Document \($0.offset + 1):\n\(documents[$0.element])" }.joined(separator: "\n\n")
        let fields = ["context": context, "query": q.query]
        return RulerInstance(message: fillTemplate(template, fields), answerPrefix: fillTemplate(answerPrefix, fields), answers: q.answers,
                             depth: nil)
    }
}
