import Foundation
import Results

/// Formatting shared by the Markdown outputs.
public enum Format {
    public static func number(_ v: Double?, decimals: Int = 1) -> String {
        guard let v else { return "–" }
        return String(format: "%.\(decimals)f", v)
    }

    /// A cell's speed figure, marked † when some of its samples ran contended.
    public static func speed(_ v: Double?, of cell: Cell) -> String {
        number(v) + (v != nil && cell.contended > 0 ? " †" : "")
    }

    /// What † on a speed figure means.
    public static let contendedNote = "† some samples of the cell ran while another process took cores from lmbench "
        + "(CPU time well below its threads' worth per second): their speed is the machine's, not the engine's."

    public static func mebibytes(_ bytes: Double?) -> String {
        guard let bytes else { return "–" }
        return String(format: "%.1f", bytes / 1_048_576)
    }

    /// "0.67 [0.21, 0.94] (n=3)": the mean score with, when `interval`, the 95% interval its metric's
    /// kind calls for; a dash when nothing ran; "[2 skipped]" style notes for samples that did not run.
    public static func scoreCell(_ cell: Cell, scale: Double = 1, interval: Bool = true) -> String {
        let range = interval ? cell.scoreInterval.map { String(format: " [%.2f, %.2f]", $0.lower * scale, $0.upper * scale) } ?? "" : ""
        var text = cell.score.value.map { String(format: "%.2f", $0 * scale) + range + " (n=\(cell.score.n))" } ?? "–"
        let notes = [SampleStatus.skipped, .timedOut, .error].compactMap { status -> String? in
            guard let count = cell.statuses[status], count > 0 else { return nil }
            return "\(count) \(status.rawValue)"
        }
        if !notes.isEmpty { text += " [" + notes.joined(separator: ", ") + "]" }
        return text
    }

    /// A Markdown table; cells have `|` escaped.
    public static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines = ["| " + header.map(escape).joined(separator: " | ") + " |"]
        lines.append("|" + header.indices.map { rightAligned.contains($0) ? " ---: " : " --- " }.joined(separator: "|") + "|")
        for row in rows { lines.append("| " + row.map(escape).joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n")
    }
}

/// The report of one or more runs, built from the store alone: accuracy (with the interval its
/// metric's kind calls for), latency and memory by length × engine, RULER's task × length table,
/// LongBench scores per dataset with LongBench-E buckets, and each run's parameters. One document, rendered as Markdown or HTML.
public struct RunReport {
    public let runs: [RunRecord]
    public let samples: [SampleRecord]

    public init(store: ResultsStore, runIDs: [Int64]) throws {
        runs = try runIDs.map { try store.run(id: $0) }
        samples = try store.samples(runIDs: runIDs)
    }

    public init(runs: [RunRecord], samples: [SampleRecord]) {
        self.runs = runs
        self.samples = samples
    }

    public var title: String { "lmbench report: run\(runs.count > 1 ? "s" : "") " + runs.map { String($0.id) }.joined(separator: ", ") }

    /// Engine labels for the report's tables. Runs of one engine, model and chat template that cover
    /// different cells (another task or length: a sweep continued in a later run) keep the engine's
    /// label, so their samples fill one table; runs that overlap in a cell become "full (run 3)",
    /// "full (run 4)"; an engine run on several models or templates is labelled by them,
    /// "full (SmolLM2 135M)", "full (template chatml)".
    public var labelledSamples: [SampleRecord] {
        struct Setup: Hashable { var engine, model, template: String }
        struct Cell: Hashable { var setup: Setup; var dataset: String; var length: Int }
        let runByID = Dictionary(runs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        func setup(_ s: SampleRecord) -> Setup {
            Setup(engine: s.engine, model: runByID[s.runID]?.modelName ?? "", template: runByID[s.runID]?.chatTemplate ?? "")
        }
        let setups = samples.map(setup)
        var setupsOfEngine: [String: Set<Setup>] = [:]
        var runsOfCell: [Cell: Set<Int64>] = [:]
        for (s, own) in zip(samples, setups) {
            setupsOfEngine[s.engine, default: []].insert(own)
            runsOfCell[Cell(setup: own, dataset: s.dataset, length: s.length), default: []].insert(s.runID)
        }
        let severalModels = setupsOfEngine.mapValues { Set($0.map(\.model)).count > 1 }
        let severalTemplates = setupsOfEngine.mapValues { Set($0.map(\.template)).count > 1 }
        let overlapping = Set(runsOfCell.filter { $0.value.count > 1 }.keys.map(\.setup))
        return zip(samples, setups).map { s, own in
            var s = s
            var qualifiers: [String] = []
            if severalModels[s.engine]! { qualifiers.append(own.model) }
            if severalTemplates[s.engine]! { qualifiers.append("template \(own.template)") }
            if overlapping.contains(own) { qualifiers.append("run \(s.runID)") }
            if !qualifiers.isEmpty { s.engine += " (" + qualifiers.joined(separator: ", ") + ")" }
            return s
        }
    }

    public func document() -> Document {
        let samples = labelledSamples
        var doc = Document()
        doc.heading(1, title)
        let tasks = Set(runs.map(\.task)).sorted().joined(separator: ", ")
        let statuses = Dictionary(grouping: samples, by: \.status).mapValues(\.count)
        doc.paragraph("Task: **\(tasks)**. Model: \(Set(runs.map { "\($0.modelName) (sha256 \($0.modelSHA256.prefix(12))…)" }).sorted().joined(separator: ", ")). "
                      + "Samples: \(samples.count) (" + SampleStatus.allCases.map { "\(statuses[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ") + ").")
        doc.paragraph("Means are over samples that ran; n is the number of such samples. Scores are 0–1 (LongBench: ×100). "
                      + "Intervals are 95%: Wilson for proportions (passkey, needle, classification, retrieval), "
                      + "a percentile bootstrap (\(BootstrapInterval.minimumResamples) resamples, fixed seed) for continuous scores (F1, ROUGE-L, code similarity).")
        let byLength = samples.filter { !ReportLayout.isByDataset($0) }
        let byDataset = samples.filter { ReportLayout.isByDataset($0) }
        doc += RulerTable(samples.filter(ReportLayout.isRuler)).document()
        doc += PerplexityReport(samples).document()
        doc += GroupTable(samples, runs: runs).document()
        if !byLength.isEmpty { doc += sections(CellTable(byLength), axis: "length (tokens)") }
        if !byDataset.isEmpty {
            doc += longBenchSection(byDataset)
            doc += sections(CellTable(byDataset), axis: "LongBench-E bucket (words)", accuracy: false)
        }
        doc += failures(samples)
        doc += parameters()
        return doc
    }

    /// The report as Markdown.
    public func render() -> String { document().markdown }

    func sections(_ t: CellTable, axis: String, accuracy: Bool = true) -> Document {
        var doc = Document()
        if accuracy {
            doc.heading(2, "Accuracy by length × engine")
            doc.table([axis] + t.engines, t.lengths.map { length in
                [length.label] + t.engines.map { e in t.cell(e, length.label).map { Format.scoreCell($0) } ?? "–" }
            }, rightAligned: Set(1...t.engines.count))
        }
        doc.heading(2, "Latency by length × engine")
        var latency: [[String]] = []
        var memory: [[String]] = []
        for length in t.lengths {
            for e in t.engines {
                guard let c = t.cell(e, length.label) else { continue }
                latency.append([length.label, e, "\(c.timeToFirstTokenMs.n)", Format.number(c.promptTokens.value, decimals: 0),
                                Format.number(c.timeToFirstTokenMs.value, decimals: 0), Format.speed(c.prefillTokensPerSecond.value, of: c),
                                Format.speed(c.decodeTokensPerSecond.value, of: c), "\(c.contended)"])
                memory.append([length.label, e, "\(c.peakRSSBytes.n)", Format.mebibytes(c.peakRSSBytes.value),
                               Format.mebibytes(c.attentionStateBytes.value), "\(c.truncated)"])
            }
        }
        doc.table([axis, "engine", "n", "prompt tokens", "TTFT ms", "prefill tok/s", "decode tok/s", "contended"], latency,
                  rightAligned: [2, 3, 4, 5, 6, 7])
        if t.cells.values.contains(where: { $0.values.contains { $0.contended > 0 } }) {
            doc.paragraph(Format.contendedNote)
        }
        doc.heading(2, "Memory by length × engine")
        doc.table([axis, "engine", "n", "peak RSS MiB", "attention state MiB", "truncated"], memory, rightAligned: [2, 3, 4, 5])
        return doc
    }

    func longBenchSection(_ samples: [SampleRecord]) -> Document {
        let byDataset = CellTable(samples) { ($0.dataset, 0) }
        let datasets = byDataset.lengths.map(\.label).sorted()
        var doc = Document()
        doc.heading(2, "LongBench scores per dataset × engine (×100)")
        doc.table(["dataset"] + byDataset.engines, datasets.map { d in
            [d] + byDataset.engines.map { e in byDataset.cell(e, d).map { Format.scoreCell($0, scale: 100) } ?? "–" }
        }, rightAligned: Set(1...byDataset.engines.count))
        doc.heading(3, "LongBench-E buckets (by the records' word counts, ×100)")
        let buckets = ["0-4k", "4-8k", "8k+"]
        var rows: [[String]] = []
        for d in datasets {
            let table = CellTable(samples.filter { $0.dataset == d })
            for e in table.engines {
                rows.append([d, e] + buckets.map { b in table.cell(e, b).map { Format.scoreCell($0, scale: 100, interval: false) } ?? "–" })
            }
        }
        doc.table(["dataset", "engine"] + buckets, rows, rightAligned: [2, 3, 4])
        return doc
    }

    func failures(_ samples: [SampleRecord]) -> Document {
        let failed = samples.filter { $0.status != .ok }
        guard !failed.isEmpty else { return Document() }
        var doc = Document()
        doc.heading(2, "Samples that did not run")
        doc.table(["engine", "sample", "length", "status", "why"], failed.map {
            [$0.engine, $0.sampleID, LengthAxis.group($0).label, $0.status.rawValue, $0.error ?? ""]
        })
        return doc
    }

    func parameters() -> Document {
        var doc = Document()
        doc.heading(2, "Run parameters")
        for run in runs {
            doc.heading(3, "Run \(run.id): \(run.task)")
            var rows: [[String]] = [
                ["command", "`\(run.command)`"], ["created", run.createdAt], ["finished", run.finishedAt ?? "not finished"],
                ["task family", run.taskFamily], ["model", "\(run.modelName): `\(run.modelPath)`"], ["model sha256", run.modelSHA256],
                ["chat template", run.chatTemplate], ["seed", "\(run.seed)"], ["lmbench version", run.lmbenchVersion],
                ["machine", "\(run.machine.cpu), \(run.machine.cores) cores, \(run.machine.memoryBytes >> 30) GiB, \(run.machine.os)"],
                ["samples planned", "\(run.plannedSamples)"],
            ]
            rows += run.tags.sorted { $0.key < $1.key }.map { ["tag \($0.key)", $0.value] }
            for engine in run.engines {
                rows.append(["engine \(engine.label) (\(engine.kind))",
                             engine.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")])
            }
            for (k, v) in run.taskParameters.sorted(by: { $0.key < $1.key }) {
                rows.append(["task \(k)", v.count > 160 ? String(v.prefix(157)) + "…" : v])
            }
            doc.table(["parameter", "value"], rows)
        }
        return doc
    }
}
