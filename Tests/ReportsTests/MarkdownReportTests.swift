import XCTest
import Results
import Reports

final class MarkdownReportTests: XCTestCase {
    func run(_ id: Int64) -> RunRecord {
        var r = RunRecord(key: "k", task: "passkey", taskParameters: ["lengths": "1024,2048"],
                          engines: [EngineRecord(label: "full", strategy: "full", parameters: ["threads": "2"])],
                          modelPath: "m.gguf", modelName: "Gemma", modelSHA256: "abcdef0123456789", seed: 42, lmbenchVersion: "v1",
                          machine: MachineFacts(cpu: "EPYC", cores: 2, memoryBytes: 8 << 30, os: "Debian"), tags: [:],
                          command: "lmbench run passkey", plannedSamples: 4)
        r.id = id
        return r
    }

    func sample(engine: String, length: Int, score: Double?, prefillMs: Double, status: SampleStatus = .ok,
                dataset: String = "passkey", words: Int? = nil) -> SampleRecord {
        SampleRecord(runID: 1, engine: engine, sampleKey: UUID().uuidString, task: "passkey", dataset: dataset, sampleID: "s",
                     lengthTokens: length, depth: nil, lengthWords: words, expected: ["1"], output: "1", score: score, metric: "m",
                     promptTokens: length, truncated: false, prefillMs: prefillMs, timeToFirstTokenMs: prefillMs + 10, decodeMs: 100,
                     decodeTokens: 4, decodeTokensPerSecond: 40, peakRSSBytes: 300 << 20, attentionStateBytes: 2 << 20,
                     status: status, error: status == .ok ? nil : "too big")
    }

    func testTablesCarryMeansWithCounts() {
        let samples = [
            sample(engine: "full", length: 1024, score: 1, prefillMs: 2000),
            sample(engine: "full", length: 1024, score: 0, prefillMs: 2000),
            sample(engine: "lm-infinite", length: 1024, score: 1, prefillMs: 1000),
            sample(engine: "full", length: 2048, score: nil, prefillMs: 0, status: .skipped),
            sample(engine: "lm-infinite", length: 2048, score: 1, prefillMs: 4096),
        ]
        let text = MarkdownReport(runs: [run(1)], samples: samples).render()
        XCTAssertTrue(text.contains("| length (tokens) | full | lm-infinite |"), text)
        XCTAssertTrue(text.contains("| 1k | 0.50 (n=2) | 1.00 (n=1) |"), text)
        XCTAssertTrue(text.contains("| 2k | – [1 skipped] | 1.00 (n=1) |"), text)
        // prefill tok/s = 1024 / 2 s; TTFT = 2010 ms.
        XCTAssertTrue(text.contains("| 1k | full | 2 | 1024 | 2010 | 512.0 | 40.0 |"), text)
        XCTAssertTrue(text.contains("| 2k | lm-infinite | 1 | 2048 | 4106 | 500.0 | 40.0 |"), text)
        XCTAssertTrue(text.contains("| 1k | full | 2 | 300.0 | 2.0 | 0 |"), text)
        XCTAssertTrue(text.contains("## Samples that did not run"))
        XCTAssertTrue(text.contains("| model sha256 | abcdef0123456789 |"))
    }

    func testLongBenchScoresPerDatasetAndBucket() {
        let samples = [
            sample(engine: "full", length: 3000, score: 0.25, prefillMs: 1000, dataset: "qasper", words: 3500),
            sample(engine: "full", length: 6000, score: 0.75, prefillMs: 1000, dataset: "qasper", words: 5000),
            sample(engine: "full", length: 9000, score: 0.5, prefillMs: 1000, dataset: "multi_news", words: 9000),
        ]
        let text = MarkdownReport(runs: [run(1)], samples: samples).render()
        XCTAssertTrue(text.contains("| qasper | 50.00 (n=2) |"), text)
        XCTAssertTrue(text.contains("| multi_news | 50.00 (n=1) |"), text)
        XCTAssertTrue(text.contains("| qasper | full | 25.00 (n=1) | 75.00 (n=1) | – |"), text)
        XCTAssertTrue(text.contains("| multi_news | full | – | – | 50.00 (n=1) |"), text)
    }
}
