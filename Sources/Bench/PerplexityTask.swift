import Foundation
import Inference
import Results

/// Perplexity vs position (LM-Infinite, Fig. 1): one long text, the documents of `--data` (a text
/// file, or a folder's `.txt` files in name order, a blank line between them), tokenized once with
/// the model's BOS; the sample of length L is its first L tokens, so each sample is a prefix of
/// the longer ones. Engines score every token after the first instead of generating
/// (`Engine.scorePerplexity`), storing the mean NLL per bucket of `--bucket` positions and the
/// overall perplexity (`PerplexityFigures`). The text is read raw: chat templates do not apply.
final class PerplexityTask: BenchmarkTask, TaskGenerator {
    static let name = "perplexity"

    struct Configuration: Decodable {
        /// The text when `--data` is not given, relative to the checkout (the folder above `tasks/`).
        var defaultData: String

        enum CodingKeys: String, CodingKey {
            case defaultData = "default_data"
        }
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let dataPath: String
    let documents: [String]
    let bucketSize: Int
    let metric = Metric.inversePerplexity
    /// The text's tokens as far as they have been read: BOS (when the model's metadata adds one),
    /// then whole documents, until the longest sample is covered.
    private var tokens: [Int32]
    private var documentsRead = 0

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        try PerplexityTask(file, request: request, catalog: catalog, tokenizer: tokenizer)
    }

    init(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws {
        let c = try file.decode(Configuration.self)
        name = file.name
        self.request = request
        self.tokenizer = tokenizer
        if let data = request.dataPath {
            dataPath = data
        } else {
            let checkout = URL(fileURLWithPath: catalog.folder).standardizedFileURL.deletingLastPathComponent()
            dataPath = checkout.appendingPathComponent(c.defaultData).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: dataPath) else {
                throw TaskError("\(file.path): no --data given and the default text \(dataPath) does not exist (--data takes a text file or a folder of .txt files)")
            }
        }
        documents = try Self.documents(at: dataPath)
        bucketSize = request.bucketSize ?? 1024
        tokens = Array(tokenizer.encode("", addSpecial: true, parseSpecial: false).prefix { $0 == tokenizer.bosID })
        // Every token covers at least one byte: a length past the text's bytes can never be filled.
        let bytes = try documents.reduce(tokens.count + 2 * (documents.count - 1)) { total, path in
            total + ((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        if let long = request.lengths.first(where: { $0 > bytes }) {
            throw SpecError("--lengths: \(LengthGrid.label(long)) tokens is more than the text in \(dataPath) holds (\(bytes) bytes)")
        }
        if let short = request.lengths.first(where: { $0 < 2 }) {
            throw SpecError("--lengths: \(short) token is too short for \(name) (a sample scores every token after the first)")
        }
    }

    var parameters: [String: String] {
        ["data": dataPath, "documents": documents.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ","),
         "bucket": String(bucketSize), "metric": metric.name, "samples": "1",
         "lengths": request.lengths.map(String.init).joined(separator: ",")]
    }

    /// One sample per length: the text has one beginning.
    func plan() throws -> [PlannedSample] {
        request.lengths.map { length in
            .generated(key: "\(name)/\(length)", index: 0, length: length, depth: nil, maxNewTokens: 0, metric: metric)
        }
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let length = planned.length
        while tokens.count < length && documentsRead < documents.count {
            let text = try Self.read(documents[documentsRead])
            tokens += tokenizer.encode(documentsRead == 0 ? text : "\n\n" + text, addSpecial: false, parseSpecial: false)
            documentsRead += 1
        }
        guard tokens.count >= length else {
            throw TaskError("\(dataPath): the text is \(tokens.count) tokens long, shorter than the \(LengthGrid.label(length)) sample")
        }
        var sample = Sample(key: planned.key, id: "\(name)-\(length)", dataset: name, prompt: "", promptTokens: Array(tokens[..<length]),
                            answers: [], maxNewTokens: 0, length: length, lengthUnit: .tokens, depth: nil, metric: metric)
        sample.perplexityBucket = bucketSize
        return sample
    }

    /// A text file, or the `.txt` files of a folder in name order.
    static func documents(at path: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TaskError("\(path): text not found (--data takes a text file or a folder of .txt files)")
        }
        guard isFolder.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
        guard !names.isEmpty else { throw TaskError("\(path): no .txt files in the folder") }
        return names.map { path + "/" + $0 }
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the text file") }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Metric {
    /// exp(−mean NLL) = 1 / perplexity: the geometric mean of the probabilities the model gave the
    /// text's tokens. A 0…1 score where higher is better, as every other score, so accuracy tables
    /// and leaderboards read it the usual way; the perplexity itself is a figure.
    public static let inversePerplexity = Metric(name: "inverse_perplexity", kind: .continuous) { figures in
        MetricResult(score: figures[PerplexityFigures.meanNLL].map { Foundation.exp(-$0) } ?? 0)
    }
}
