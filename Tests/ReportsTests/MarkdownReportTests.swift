import XCTest
import Results
import Reports
import StoreTestSupport

final class MarkdownReportTests: XCTestCase {
    func run(_ id: Int64) -> RunRecord {
        var r = SyntheticStore.runRecord(task: "passkey", engines: ["full"],
                                         taskParameters: ["lengths": "1024,2048", "answers": "Dolores Park | sandwich"], plannedSamples: 4)
        r.id = id
        r.modelSHA256 = "abcdef0123456789"
        return r
    }

    func sample(engine: String, length: Int, score: Double?, prefillMs: Double, status: SampleStatus = .ok,
                dataset: String = "passkey", words: Int? = nil, kind: MetricKind = .proportion) -> SampleRecord {
        var s = SampleRecord()
        s.runID = 1
        s.engine = engine
        s.sampleKey = UUID().uuidString
        s.taskFamily = words == nil ? "passkey" : "longbench"
        s.task = words == nil ? "passkey" : "longbench"
        s.dataset = dataset
        s.sampleID = "s"
        s.length = words ?? length
        s.lengthUnit = words == nil ? .tokens : .words
        s.expected = ["1"]
        s.output = "1"
        s.score = score
        s.metric = "m"
        s.metricKind = kind
        s.promptTokens = length
        s.prefillMs = prefillMs
        s.timeToFirstTokenMs = prefillMs + 10
        s.decodeMs = 100
        s.decodeTokens = 4
        s.decodeTokensPerSecond = 40
        s.peakRSSBytes = 300 << 20
        s.attentionStateBytes = 2 << 20
        s.status = status
        s.error = status == .ok ? nil : "too big"
        return s
    }

    /// "0.50 [0.09, 0.91] (n=2)": a mean with the Wilson interval the test computes itself.
    func wilson(_ k: Double, _ n: Int) -> String {
        let w = WilsonInterval(successes: k, trials: n)
        return String(format: "%.2f [%.2f, %.2f] (n=%d)", k / Double(n), w.lower, w.upper, n)
    }

    func testTablesCarryMeansWithCounts() {
        let samples = [
            sample(engine: "full", length: 1024, score: 1, prefillMs: 2000),
            sample(engine: "full", length: 1024, score: 0, prefillMs: 2000),
            sample(engine: "lm-infinite", length: 1024, score: 1, prefillMs: 1000),
            sample(engine: "full", length: 2048, score: nil, prefillMs: 0, status: .skipped),
            sample(engine: "lm-infinite", length: 2048, score: 1, prefillMs: 4096),
        ]
        let text = RunReport(runs: [run(1)], samples: samples).render()
        XCTAssertTrue(text.contains("| length (tokens) | full | lm-infinite |"), text)
        XCTAssertTrue(text.contains("| 1k | \(wilson(1, 2)) | \(wilson(1, 1)) |"), text)
        XCTAssertTrue(text.contains("| 1k | 0.50 [0.09, 0.91] (n=2) |"), "worked by hand: centre 0.5, half-width 0.405")
        XCTAssertTrue(text.contains("| 2k | – [1 skipped] | \(wilson(1, 1)) |"), text)
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
        let text = RunReport(runs: [run(1)], samples: samples).render()
        let two = WilsonInterval(successes: 1, trials: 2), one = WilsonInterval(successes: 0.5, trials: 1)
        XCTAssertTrue(text.contains(String(format: "| qasper | 50.00 [%.2f, %.2f] (n=2) |", two.lower * 100, two.upper * 100)), text)
        XCTAssertTrue(text.contains(String(format: "| multi_news | 50.00 [%.2f, %.2f] (n=1) |", one.lower * 100, one.upper * 100)), text)
        XCTAssertTrue(text.contains("| qasper | full | 25.00 (n=1) | 75.00 (n=1) | – |"), text)
        XCTAssertTrue(text.contains("| multi_news | full | – | – | 50.00 (n=1) |"), text)
    }

    func testContinuousScoresGetABootstrapIntervalAndLongBenchWithoutLengthsStaysByDataset() throws {
        // ROUGE-L scores are not successes out of trials: their interval is a bootstrap's.
        let scores = [0.1, 0.2, 0.3, 0.4, 0.9]
        let samples = scores.map { sample(engine: "full", length: 2000, score: $0, prefillMs: 1000, dataset: "multi_news", words: 1500, kind: .continuous) }
        let text = RunReport(runs: [run(1)], samples: samples).render()
        let b = try XCTUnwrap(BootstrapInterval(scores: scores))
        XCTAssertTrue(text.contains(String(format: "| multi_news | 38.00 [%.2f, %.2f] (n=5) |", b.lower * 100, b.upper * 100)), text)
        XCTAssertNotEqual(String(format: "%.3f", b.lower), String(format: "%.3f", WilsonInterval(successes: 1.9, trials: 5).lower))
        XCTAssertTrue(text.contains("## LongBench scores per dataset"), text)
        XCTAssertFalse(text.contains("## Accuracy by length"), "LongBench records are not laid out as a length grid")
        XCTAssertTrue(text.contains("| multi_news | full | 38.00 (n=5) | – | – |"), text)
    }

    func testMarkdownAndHTMLComeFromOneDocument() throws {
        let report = RunReport(runs: [run(1)], samples: [sample(engine: "a|b", length: 1024, score: 1, prefillMs: 1000)])
        let markdown = report.render(), html = HTMLPage.render(title: "t", document: report.document(), plots: [])
        XCTAssertTrue(markdown.contains("| task answers | Dolores Park \\| sandwich |"), markdown)
        // A pipe in a cell is an escape in Markdown only; the HTML cell holds the text as it is.
        XCTAssertTrue(html.contains("<td>Dolores Park | sandwich</td>"), html)
        XCTAssertTrue(html.contains("<th>a|b</th>"), html)
        XCTAssertTrue(html.contains("<code>lmbench run passkey</code>"), html)
        let headings = report.document().blocks.compactMap { block -> String? in
            if case let .heading(_, text) = block { return text } else { return nil }
        }
        for heading in headings { XCTAssertTrue(html.contains(HTMLPage.inline(heading)), heading) }
    }
}
