import XCTest
import Foundation
import Results
import Reports

/// The perplexity section: tables per length and per position range, the curve from each engine's
/// longest sample, and the plot with one line per engine and the trained context marked.
final class PerplexityReportTests: XCTestCase {
    /// A perplexity sample of `length` tokens in buckets of 1k whose bucket starting at s has mean
    /// NLL `nll(s)`.
    static func sample(_ engine: String, length: Int, nll: (Int) -> Double) -> SampleRecord {
        var s = SampleRecord()
        s.runID = 1
        s.engine = engine
        s.taskFamily = "perplexity"
        s.task = "perplexity"
        s.dataset = "perplexity"
        s.length = length
        s.lengthUnit = .tokens
        s.promptTokens = length
        s.metric = "inverse_perplexity"
        s.metricKind = .continuous
        var accumulator = PerplexityAccumulator(bucketSize: 1024)
        let values = (1..<length).map { Float(-nll($0 / 1024 * 1024)) }
        values.withUnsafeBufferPointer { accumulator.add(firstPosition: 1, $0) }
        s.figures = accumulator.figures
        s.figures[PerplexityFigures.trainedContext] = 8192
        s.score = exp(-accumulator.meanNLL)
        return s
    }

    func testTablesAndPlotFollowTheBuckets() throws {
        // full: NLL 2 before the trained context (8k), 5 past it; lm-infinite: 2 everywhere.
        let samples = [
            Self.sample("full", length: 4096) { _ in 2 },
            Self.sample("full", length: 16384) { $0 < 8192 ? 2 : 5 },
            Self.sample("lm-infinite", length: 16384) { _ in 2 },
        ]
        let report = PerplexityReport(samples)
        XCTAssertEqual(report.curves.map(\.engine), ["full", "lm-infinite"])
        XCTAssertEqual(report.curves[0].buckets.count, 16, "the longest sample's buckets")
        XCTAssertEqual(report.curves[0].buckets[0].tokens, 1023)
        XCTAssertEqual(report.curves[0].trainedContext, 8192)

        let markdown = report.document().markdown
        let e2 = String(format: "%.2f", exp(2.0)), e5 = String(format: "%.2f", exp(5.0))
        XCTAssertTrue(markdown.contains("| 4k | \(e2) (n=1) | – |"), markdown)
        // Over the whole 16k sample: 8191 tokens at NLL 2, 8192 at 5.
        let overall = String(format: "%.2f", exp((8191 * 2 + 8192 * 5) / 16383.0))
        XCTAssertTrue(markdown.contains("| 16k | \(overall) (n=1) | \(e2) (n=1) |"), markdown)
        XCTAssertTrue(markdown.contains("| 0–1k | \(e2) (1023 tokens) | \(e2) (1023 tokens) |"), markdown)
        XCTAssertTrue(markdown.contains("| 4k–8k | \(e2) (4096 tokens) |"), markdown)
        XCTAssertTrue(markdown.contains("| 8k–16k (past trained context) | \(e5) (8192 tokens) | \(e2) (8192 tokens) |"), markdown)

        let plot = try XCTUnwrap(report.plots.first)
        XCTAssertEqual(plot.name, "perplexity.svg")
        let elements = PlotTests.parse(plot.svg)
        XCTAssertEqual(elements.compactMap { $0.attributes["data-series"] }, ["full", "lm-infinite"])
        XCTAssertEqual(elements.compactMap { $0.attributes["data-marker"] }, ["8192.0"])
        let points = elements.filter { $0.name == "circle" }.map { (x: Double($0.attributes["data-x"]!)!, y: Double($0.attributes["data-y"]!)!) }
        XCTAssertEqual(points.count, 32)
        XCTAssertEqual(points[0].x, 512, accuracy: 1)
        XCTAssertEqual(points[15].y, 5, accuracy: 1e-9)
        XCTAssertEqual(points[7].y, 2, accuracy: 1e-9)
        XCTAssertEqual(points[31].y, 2, accuracy: 1e-9)
    }

    func testLongRunsAreMergedToAReadableNumberOfPoints() throws {
        let report = PerplexityReport([Self.sample("full", length: 1 << 20) { $0 < 8192 ? 2 : 6 }])
        XCTAssertEqual(report.curves[0].buckets.count, 1024)
        let circles = PlotTests.parse(report.plots[0].svg).filter { $0.name == "circle" }
        XCTAssertEqual(circles.count, 256)
        // Four buckets a point: the first point is positions 0–4k at NLL 2.
        XCTAssertEqual(Double(circles[0].attributes["data-y"]!)!, 2, accuracy: 1e-9)
        XCTAssertEqual(Double(circles[2].attributes["data-y"]!)!, 6, accuracy: 1e-9)
        XCTAssertTrue(report.document().markdown.contains("| 512k–1M (past trained context) |"))
    }

    func testOtherSamplesGetNoSection() {
        var s = SampleRecord()
        s.figures = ["answers_found": 1]
        XCTAssertTrue(PerplexityReport([s]).document().blocks.isEmpty)
        XCTAssertTrue(PerplexityReport([s]).plots.isEmpty)
    }
}
