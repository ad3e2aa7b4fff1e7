import Foundation
import Results

/// XML text escaping for SVG and XHTML.
public func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}

/// SVG charts written by hand (no dependencies). Every mark carries its numbers as `data-*`
/// attributes and a `<title>` tooltip, so a reader can hover and a test can check them against the store.
public enum SVG {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public struct Series {
        public var name: String
        /// (x, y, x label) points, in x order.
        public var points: [(x: Double, y: Double, label: String)]
        public init(name: String, points: [(x: Double, y: Double, label: String)]) {
            self.name = name
            self.points = points
        }
    }

    static func number(_ v: Double) -> String { String(format: "%.2f", v) }

    /// A line chart: one line per series; x on a log₂ axis when `logX`; y from 0 (to 1 when `unitY`).
    /// The x axis is labelled at every point's x unless `xTicks` says where; each of `markers` is a
    /// dashed vertical line with its label (a model's trained context, say) where it falls on the axis.
    public static func lineChart(title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool, unitY: Bool,
                                 valueFormat: String = "%.3g", xTicks: [(x: Double, label: String)]? = nil,
                                 markers: [(x: Double, label: String)] = [], pointRadius: Double = 4) -> String {
        let width = 720.0, height = 420.0, left = 70.0, right = 190.0, top = 40.0, bottom = 60.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) }
        let tx: (Double) -> Double = { logX ? log2(max($0, 1)) : $0 }
        let xMin = xs.map(tx).min() ?? 0, xMax = xs.map(tx).max() ?? 1
        let yMax = unitY ? 1 : niceCeiling(max(series.flatMap { $0.points.map(\.y) }.max() ?? 1, 1e-9) * 1.05)
        func px(_ x: Double) -> Double { xMax == xMin ? left + plotW / 2 : left + (tx(x) - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + plotH - y / yMax * plotH }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12" data-chart="line">
            <title>\(xmlEscape(title))</title>
            <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="white"/>
            <text x="\(number(left + plotW / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(xmlEscape(title))</text>
            <text x="\(number(left + plotW / 2))" y="\(number(height - 15))" text-anchor="middle">\(xmlEscape(xLabel))</text>
            <text x="18" y="\(number(top + plotH / 2))" text-anchor="middle" transform="rotate(-90 18 \(number(top + plotH / 2)))">\(xmlEscape(yLabel))</text>
            <line x1="\(left)" y1="\(number(top + plotH))" x2="\(number(left + plotW))" y2="\(number(top + plotH))" stroke="black"/>
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(number(top + plotH))" stroke="black"/>

            """
        for i in 0...4 {
            let y = yMax * Double(i) / 4
            svg += "<line x1=\"\(left)\" y1=\"\(number(py(y)))\" x2=\"\(number(left + plotW))\" y2=\"\(number(py(y)))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(number(left - 6))\" y=\"\(number(py(y) + 4))\" text-anchor=\"end\">\(xmlEscape(String(format: valueFormat, y)))</text>\n"
        }
        var ticks: [Double: String] = [:]
        if let xTicks { for t in xTicks where (xMin...xMax).contains(tx(t.x)) { ticks[t.x] = t.label } }
        else { for s in series { for p in s.points { ticks[p.x] = p.label } } }
        for (x, label) in ticks.sorted(by: { $0.key < $1.key }) {
            svg += "<text x=\"\(number(px(x)))\" y=\"\(number(top + plotH + 18))\" text-anchor=\"middle\">\(xmlEscape(label))</text>\n"
        }
        for marker in markers where xMax > xMin && (xMin...xMax).contains(tx(marker.x)) {
            let x = number(px(marker.x))
            svg += "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(number(top + plotH))\" stroke=\"#555\" stroke-dasharray=\"5,4\" data-marker=\"\(marker.x)\"/>"
            svg += "<text x=\"\(number(px(marker.x) + 4))\" y=\"\(number(top + 12))\" fill=\"#555\">\(xmlEscape(marker.label))</text>\n"
        }
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let path = s.points.map { "\(number(px($0.x))),\(number(py($0.y)))" }.joined(separator: " ")
            svg += "<g data-series=\"\(xmlEscape(s.name))\">\n"
            if s.points.count > 1 { svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n" }
            for p in s.points {
                svg += "<circle cx=\"\(number(px(p.x)))\" cy=\"\(number(py(p.y)))\" r=\"\(String(format: "%g", pointRadius))\" fill=\"\(color)\" data-x=\"\(p.x)\" data-y=\"\(p.y)\">"
                svg += "<title>\(xmlEscape(s.name)) at \(xmlEscape(p.label)): \(xmlEscape(String(format: valueFormat, p.y)))</title></circle>\n"
            }
            svg += "</g>\n"
            let ly = top + 10 + Double(i) * 20
            svg += "<rect x=\"\(number(left + plotW + 15))\" y=\"\(number(ly - 9))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(number(left + plotW + 32))\" y=\"\(number(ly + 1))\">\(xmlEscape(String(s.name.prefix(26))))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The needle-in-a-haystack heatmap in its familiar layout: depth down, length across, score
    /// coloured red → yellow → green (#F0496E, #EBB839, #0CD79F).
    public static func heatmap(title: String, lengths: [(value: Int, label: String)], depths: [Double],
                               score: (Int, Double) -> (mean: Double, n: Int)?) -> String {
        let cellW = max(36.0, min(80.0, 560.0 / Double(max(lengths.count, 1)))), cellH = 26.0
        let left = 90.0, top = 44.0
        let width = left + cellW * Double(lengths.count) + 110, height = top + cellH * Double(depths.count) + 70
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12" data-chart="heatmap">
            <title>\(xmlEscape(title))</title>
            <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="white"/>
            <text x="\(number(left + cellW * Double(lengths.count) / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(xmlEscape(title))</text>
            <text x="18" y="\(number(top + cellH * Double(depths.count) / 2))" text-anchor="middle" transform="rotate(-90 18 \(number(top + cellH * Double(depths.count) / 2)))">Depth Percent</text>
            <text x="\(number(left + cellW * Double(lengths.count) / 2))" y="\(number(height - 12))" text-anchor="middle">Token Limit</text>

            """
        for (r, depth) in depths.enumerated() {
            let y = top + Double(r) * cellH
            svg += "<text x=\"\(number(left - 6))\" y=\"\(number(y + cellH / 2 + 4))\" text-anchor=\"end\">\(String(format: "%g", depth))</text>\n"
            for (c, length) in lengths.enumerated() {
                let x = left + Double(c) * cellW
                if let cell = score(length.value, depth) {
                    svg += "<rect x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(cellW - 1))\" height=\"\(number(cellH - 1))\" fill=\"\(color(cell.mean))\" "
                    svg += "data-length=\"\(length.value)\" data-depth=\"\(depth)\" data-value=\"\(cell.mean)\" data-n=\"\(cell.n)\">"
                    svg += "<title>\(length.label) tokens, depth \(String(format: "%g", depth))%: \(String(format: "%.2f", cell.mean)) (n=\(cell.n))</title></rect>\n"
                } else {
                    svg += "<rect x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(cellW - 1))\" height=\"\(number(cellH - 1))\" fill=\"#eeeeee\"/>\n"
                }
            }
        }
        for (c, length) in lengths.enumerated() {
            let x = left + (Double(c) + 0.5) * cellW, y = top + cellH * Double(depths.count) + 16
            svg += "<text x=\"\(number(x))\" y=\"\(number(y))\" text-anchor=\"end\" transform=\"rotate(-45 \(number(x)) \(number(y)))\">\(xmlEscape(length.label))</text>\n"
        }
        // Colour bar.
        let barX = left + cellW * Double(lengths.count) + 30, barH = cellH * Double(depths.count)
        for i in 0..<20 {
            let v = 1 - Double(i) / 19
            svg += "<rect x=\"\(number(barX))\" y=\"\(number(top + barH * Double(i) / 20))\" width=\"16\" height=\"\(number(barH / 20 + 0.5))\" fill=\"\(color(v))\"/>"
        }
        svg += "<text x=\"\(number(barX + 22))\" y=\"\(number(top + 8))\">1</text><text x=\"\(number(barX + 22))\" y=\"\(number(top + barH))\">0</text>"
        svg += "<text x=\"\(number(barX + 8))\" y=\"\(number(top - 8))\" text-anchor=\"middle\">Score</text>\n"
        return svg + "</svg>\n"
    }

    /// The smallest of 1, 2, 2.5, 4, 5, 8 × 10^k at or above `v`, so the four grid steps are round numbers.
    static func niceCeiling(_ v: Double) -> Double {
        let magnitude = pow(10, floor(log10(v)))
        return [1, 2, 2.5, 4, 5, 8, 10].map { $0 * magnitude }.first { $0 >= v } ?? 10 * magnitude
    }

    /// Red (0) → yellow (0.5) → green (1).
    public static func color(_ value: Double) -> String {
        let stops: [(Double, (Double, Double, Double))] = [(0, (0xF0, 0x49, 0x6E)), (0.5, (0xEB, 0xB8, 0x39)), (1, (0x0C, 0xD7, 0x9F))]
        let v = min(1, max(0, value))
        let (a, b) = v <= 0.5 ? (stops[0], stops[1]) : (stops[1], stops[2])
        let t = (v - a.0) / (b.0 - a.0)
        func mix(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * t).rounded()) }
        return String(format: "#%02X%02X%02X", mix(a.1.0, b.1.0), mix(a.1.1, b.1.1), mix(a.1.2, b.1.2))
    }
}

/// The four plots of a set of samples: needle heatmaps (one per engine, when depths were gridded),
/// accuracy, prefill tokens/s and peak memory against length.
public struct ReportPlots {
    public var files: [Plot] = []

    public init(samples: [SampleRecord]) {
        let generated = samples.filter { !ReportLayout.isByDataset($0) && $0.lengthUnit == .tokens }
        guard !generated.isEmpty else { return }
        let table = CellTable(generated)
        func series(_ value: (Cell) -> Double?) -> [SVG.Series] {
            table.engines.map { e in
                SVG.Series(name: e, points: table.lengths.compactMap { l in
                    table.cell(e, l.label).flatMap(value).map { (x: Double(l.order), y: $0, label: l.label) }
                })
            }
        }
        let task = Set(generated.map(\.task)).sorted().joined(separator: ", ")
        let depthSamples = generated.filter { $0.depth != nil }
        let depths = Array(Set(depthSamples.compactMap(\.depth))).sorted()
        // A heatmap needs a depth grid: every length run at the same depths (not passkey's random depths).
        let depthsByLength = Dictionary(grouping: depthSamples, by: \.length).mapValues { Set($0.compactMap(\.depth)) }
        if depths.count > 1, depthsByLength.values.allSatisfy({ $0 == Set(depths) }) {
            for engine in table.engines {
                let mine = depthSamples.filter { $0.engine == engine && $0.status == .ok }
                var means: [String: Mean] = [:]
                for s in mine { means["\(s.length)/\(s.depth!)", default: Mean()].add(s.score) }
                let lengths = Array(Set(mine.map(\.length))).sorted().map { (value: $0, label: LengthAxis.label(tokens: $0)) }
                guard !lengths.isEmpty else { continue }
                let svg = SVG.heatmap(title: "\(task): \(engine)", lengths: lengths, depths: depths) { length, depth in
                    means["\(length)/\(depth)"].flatMap { m in m.value.map { ($0, m.n) } }
                }
                files.append(Plot(name: "heatmap-\(Self.slug(engine)).svg", title: "Retrieval by depth × length, \(engine)", svg: svg))
            }
        }
        files.append(Plot(name: "accuracy.svg", title: "Accuracy vs length", svg:
                      SVG.lineChart(title: "\(task): accuracy vs length", xLabel: "prompt length (tokens, log₂ scale)", yLabel: "accuracy",
                                    series: series { $0.score.value }, logX: true, unitY: true, valueFormat: "%.2f")))
        files.append(Plot(name: "prefill.svg", title: "Prefill tokens/s vs length", svg:
                      SVG.lineChart(title: "\(task): prefill speed", xLabel: "prompt length (tokens, log₂ scale)", yLabel: "prefill tokens/s",
                                    series: series { $0.prefillTokensPerSecond.value }, logX: true, unitY: false, valueFormat: "%.0f")))
        files.append(Plot(name: "memory.svg", title: "Peak memory vs length", svg:
                      SVG.lineChart(title: "\(task): peak memory", xLabel: "prompt length (tokens, log₂ scale)", yLabel: "peak RSS (MiB)",
                                    series: series { $0.peakRSSBytes.value.map { $0 / 1_048_576 } }, logX: true, unitY: false, valueFormat: "%.0f")))
        files += PerplexityReport(generated).plots
    }

    static func slug(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
    }
}
