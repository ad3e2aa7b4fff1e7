import XCTest
import Inference
import Results
import ModelTestSupport
@testable import Bench

/// `lmbench run perplexity`: the text's samples are prefixes of one token sequence, and a small run
/// through the real model stores each sample's NLL per position bucket, its perplexity and score;
/// an engine that cannot score skips such samples.
final class PerplexityTaskTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-perplexity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("text"), withIntermediateDirectories: true)
        // Written out of name order: the text reads a.txt first.
        try ("The harbour was quiet in the early morning. Fishing boats rocked against the old stone pier, and the gulls circled "
             + "overhead, calling to one another. An old sailor sat on a coil of rope, mending a net with slow, careful hands. "
             + "He had worked these waters for fifty years and knew every current and every rock beneath the grey surface.")
            .write(to: dir.appendingPathComponent("text/b.txt"), atomically: true, encoding: .utf8)
        try ("Chapter One. It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
             + "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the "
             + "season of Darkness, it was the spring of hope, it was the winter of despair.")
            .write(to: dir.appendingPathComponent("text/a.txt"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var catalog: TaskCatalog { get throws { try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path) } }

    func task(lengths: [Int], bucket: Int? = 32) throws -> BenchmarkTask {
        try catalog.make("perplexity", request: TaskRequest(lengths: lengths, depths: nil, samplesPerCell: 1, seed: 1, limit: nil,
                                                              dataPath: dir.appendingPathComponent("text").path, haystackPath: nil,
                                                              bucketSize: bucket),
                         tokenizer: try TestModel.require().tokenizer)
    }

    func testSamplesArePrefixesOfTheDocumentsInNameOrder() throws {
        let tokenizer = try TestModel.require().tokenizer
        let task = try self.task(lengths: [16, 120])
        let samples = try task.plan().map { try task.makeSample($0) }
        XCTAssertEqual(samples.map(\.key), ["perplexity/16", "perplexity/120"])
        XCTAssertEqual(samples.map { $0.promptTokens?.count }, [16, 120])
        XCTAssertEqual(Array(samples[1].promptTokens!.prefix(16)), samples[0].promptTokens)
        XCTAssertEqual(samples[1].promptTokens!.first, tokenizer.bosID)
        XCTAssertTrue(tokenizer.decode(samples[1].promptTokens!, renderSpecial: false).hasPrefix("Chapter One. It was the best of times"))
        XCTAssertTrue(tokenizer.decode(samples[1].promptTokens!, renderSpecial: false).contains("winter of despair.\n\nThe harbour"))
        XCTAssertEqual(samples.map(\.perplexityBucket), [32, 32])
        XCTAssertEqual(task.parameters["documents"], "a.txt,b.txt")
        XCTAssertEqual(task.parameters["bucket"], "32")

        XCTAssertThrowsError(try self.task(lengths: [16, 1 << 20])) {
            XCTAssertTrue("\($0)".hasPrefix("--lengths: 1M tokens is more than the text in "), "\($0)")
        }
        let tooLong = try self.task(lengths: [600])
        XCTAssertThrowsError(try tooLong.makeSample(try tooLong.plan()[0])) {
            XCTAssertTrue("\($0)".contains("shorter than the 600 sample"), "\($0)")
        }
    }

    func testARunStoresTheNLLOfEveryBucketAndThePerplexity() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        // Chunks of 48 positions do not line up with buckets of 32: buckets are filled across chunks.
        let context = EngineContext(chunkSize: 48) { try TestModel.require() }
        let settings = RunSettings(task: "perplexity", lengths: "40,130", engines: "full,lm-infinite:n_local=32:n_global=4",
                                   data: dir.appendingPathComponent("text").path, bucket: "32")
        let plan = try RunPlan(settings, catalog: try catalog, context: context, store: { store }, command: "test")
        let summary = try Runner(store: store).run(plan)
        XCTAssertEqual(summary.counts, [.ok: 4])
        let rows = try store.samples(runIDs: [summary.runID])
        func row(_ engine: String, _ length: Int) throws -> SampleRecord {
            try XCTUnwrap(rows.first { $0.engine == engine && $0.length == length })
        }
        let full = try row("full", 130)
        XCTAssertEqual(full.metric, "inverse_perplexity")
        XCTAssertEqual(full.metricKind, .continuous)
        XCTAssertEqual(full.promptTokens, 130)
        XCTAssertEqual(full.figures[PerplexityFigures.scoredTokens], 129)
        XCTAssertEqual(full.figures[PerplexityFigures.bucketTokens], 32)
        XCTAssertEqual(full.figures[PerplexityFigures.trainedContext], 32768)
        XCTAssertEqual(full.figures.keys.filter { $0.hasPrefix(PerplexityFigures.bucketPrefix) }.sorted(),
                       ["nll_bucket_00000000", "nll_bucket_00000032", "nll_bucket_00000064", "nll_bucket_00000096", "nll_bucket_00000128"])
        // The buckets' token-weighted mean is the overall mean; the score is 1 / perplexity.
        let buckets = PerplexityFigures.buckets(full.figures)
        XCTAssertEqual(buckets.map(\.tokens), [31, 32, 32, 32, 2])
        let meanNLL = try XCTUnwrap(full.figures[PerplexityFigures.meanNLL])
        XCTAssertEqual(buckets.reduce(0) { $0 + Double($1.tokens) * $1.meanNLL } / 129, meanNLL, accuracy: 1e-9)
        XCTAssert((0.5...8).contains(meanNLL), "mean NLL \(meanNLL)")
        XCTAssertEqual(full.figures[PerplexityFigures.perplexity]!, exp(meanNLL), accuracy: 1e-9)
        XCTAssertEqual(full.score!, exp(-meanNLL), accuracy: 1e-9)
        XCTAssertTrue(full.output.hasPrefix("perplexity "), full.output)

        // The 40-token sample is the 130-token one's prefix, scored alike.
        let short = try row("full", 40)
        XCTAssertEqual(short.figures["nll_bucket_00000000"]!, full.figures["nll_bucket_00000000"]!, accuracy: 1e-4)
        XCTAssertEqual(PerplexityFigures.buckets(short.figures).map(\.tokens), [31, 8])
        // LM-Infinite sees all of the first bucket's context and not all of the later ones'.
        let windowed = try row("lm-infinite:n_local=32:n_global=4", 130)
        XCTAssertEqual(windowed.figures["nll_bucket_00000000"]!, full.figures["nll_bucket_00000000"]!, accuracy: 1e-3)
        XCTAssertNotEqual(windowed.figures["nll_bucket_00000096"]!, full.figures["nll_bucket_00000096"]!, accuracy: 1e-3)
    }

    /// An engine without log-probabilities: generation would be the wrong measurement.
    final class TextOnlyEngine: Engine {
        let record = EngineRecord(label: "text-only", kind: "scripted", strategy: "text-only", parameters: [:])
        var tokenizer: Tokenizer { fatalError("not asked") }
        var modelPath: String? { nil }
        var modelName: String { "scripted" }
        func refusal(promptTokens: Int, maxNewTokens: Int) -> String? { nil }
        func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput { XCTFail("a perplexity sample was generated"); throw EngineSkip(description: "") }
    }

    func testAnEngineThatCannotScoreSkipsTheSamples() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        let task = try self.task(lengths: [16])
        var run = RunRecord()
        run.taskFamily = task.family
        run.task = task.name
        run.taskParameters = task.parameters
        run.machine = Provenance.machine()
        let summary = try Runner(store: store).run(RunPlan(task: task, engines: [TextOnlyEngine()], record: run, timeLimit: nil))
        XCTAssertEqual(summary.counts, [.skipped: 1])
        let row = try XCTUnwrap(try store.samples(runIDs: [summary.runID]).first)
        XCTAssertEqual(row.error, "engine text-only (scripted) cannot score perplexity: it gives no next-token log-probabilities")
    }
}
