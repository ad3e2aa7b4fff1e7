import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Results
import StoreTestSupport
import Reports

/// Every SVG and HTML page the project writes parses as XML, and the numbers in it are the store's.
final class PlotTests: XCTestCase {
    /// Collects elements with their attributes.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append((name, attributes))
        }
    }

    static func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [(name: String, attributes: [String: String])] {
        let parser = XMLParser(data: Data(text.utf8))
        let collector = Collector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")", file: file, line: line)
        return collector.elements
    }

    func testPlotsCarryTheStoredNumbers() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Score 1 when depth < length/100 (so the heatmap is not uniform) — the expected means follow.
        let run = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048, 4096], depths: [0, 25, 50, 75, 100],
                                            samples: 2) { engine, length, depth, i in
            engine == "full" || depth! <= Double(length) / 100 || i == 0 ? 1 : 0
        }
        let samples = try store.samples(runIDs: [run])
        let plots = ReportPlots(samples: samples).files
        XCTAssertEqual(plots.map(\.name), ["heatmap-full.svg", "heatmap-lm-infinite.svg", "accuracy.svg", "prefill.svg", "memory.svg"])

        func mean(_ engine: String, _ length: Int, _ depth: Double? = nil, _ value: (SampleRecord) -> Double) -> Double {
            let chosen = samples.filter { $0.engine == engine && $0.length == length && (depth == nil || $0.depth == depth) }
            return chosen.map(value).reduce(0, +) / Double(chosen.count)
        }
        let heat = Self.parse(plots[1].svg).filter { $0.attributes["data-value"] != nil }
        XCTAssertEqual(heat.count, 15)
        for cell in heat {
            let length = Int(cell.attributes["data-length"]!)!, depth = Double(cell.attributes["data-depth"]!)!
            XCTAssertEqual(Double(cell.attributes["data-value"]!)!, mean("lm-infinite", length, depth) { $0.score! }, accuracy: 1e-9)
            XCTAssertEqual(cell.attributes["data-n"], "2")
        }
        let checks: [(Int, (SampleRecord) -> Double)] = [(2, { $0.score! }), (3, { $0.prefillTokensPerSecond! }),
                                                         (4, { Double($0.peakRSSBytes!) / 1_048_576 })]
        for (index, value) in checks {
            var points = 0
            var series = ""
            for element in Self.parse(plots[index].svg) {
                if let name = element.attributes["data-series"] { series = name }
                guard element.name == "circle", let x = element.attributes["data-x"], let y = element.attributes["data-y"] else { continue }
                XCTAssertEqual(Double(y)!, mean(series, Int(Double(x)!), nil, value), accuracy: 1e-6, "\(plots[index].name) \(series) \(x)")
                points += 1
            }
            XCTAssertEqual(points, 6, plots[index].name)
        }

        // The HTML page embeds every plot and parses as one XML document.
        let report = RunReport(runs: [try store.run(id: run)], samples: samples)
        let page = HTMLPage.render(title: "t", document: report.document(), plots: plots)
        let elements = Self.parse(page)
        XCTAssertEqual(elements.filter { $0.name == "svg" }.count, 5)
        XCTAssertEqual(elements.filter { $0.name == "table" }.count, 4)
        XCTAssertTrue(page.contains("<td class=\"num\">0.70 [0.40, 0.89] (n=10)</td>"), "lm-infinite at 1k: depths 0 (1), 25–100 (i = 0 only) → 7/10")
    }

    func testHeatmapColoursRunRedYellowGreen() {
        XCTAssertEqual(SVG.color(0), "#F0496E")
        XCTAssertEqual(SVG.color(0.5), "#EBB839")
        XCTAssertEqual(SVG.color(1), "#0CD79F")
        XCTAssertEqual(SVG.color(-3), "#F0496E")
    }
}
