import Foundation
import Results

/// Formatting shared by the Markdown outputs.
public enum Format {
    public static func number(_ v: Double?, decimals: Int = 1) -> String {
        guard let v else { return "–" }
        return String(format: "%.\(decimals)f", v)
    }

    public static func mebibytes(_ bytes: Double?) -> String {
        guard let bytes else { return "–" }
        return String(format: "%.1f", bytes / 1_048_576)
    }

    /// "0.67 (n=3)"; a dash when nothing ran; "+2 skipped" style notes for samples that did not run.
    public static func meanCell(_ mean: Mean, _ cell: Cell, decimals: Int = 2, scale: Double = 1) -> String {
        var text = mean.value.map { String(format: "%.\(decimals)f", $0 * scale) + " (n=\(mean.n))" } ?? "–"
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

/// The Markdown report of one or more runs, built from the store alone: accuracy, latency and
/// memory by length × engine, LongBench scores per dataset with LongBench-E buckets, and each run's
/// parameters.
public struct MarkdownReport {
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

    /// Engine labels made unique across runs ("full" in runs 3 and 4 become "full (run 3)" …).
    func labelled() -> [SampleRecord] {
        var runsOfEngine: [String: Set<Int64>] = [:]
        for s in samples { runsOfEngine[s.engine, default: []].insert(s.runID) }
        return samples.map { s in
            var s = s
            if runsOfEngine[s.engine]!.count > 1 { s.engine += " (run \(s.runID))" }
            return s
        }
    }

    public func render() -> String {
        let samples = labelled()
        let ids = runs.map { String($0.id) }.joined(separator: ", ")
        var out = ["# lmbench report: run\(runs.count > 1 ? "s" : "") \(ids)", ""]
        let tasks = Set(runs.map(\.task)).sorted().joined(separator: ", ")
        let statuses = Dictionary(grouping: samples, by: \.status).mapValues(\.count)
        out.append("Task: **\(tasks)**. Model: \(Set(runs.map { "\($0.modelName) (sha256 \($0.modelSHA256.prefix(12))…)" }).sorted().joined(separator: ", ")). "
                   + "Samples: \(samples.count) (" + SampleStatus.allCases.map { "\(statuses[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ") + ").")
        out.append("")
        out.append("Means are over samples that ran; n is the number of such samples. Scores are 0–1 (LongBench: ×100).")
        out.append("")

        let generated = samples.filter { $0.lengthWords == nil }
        let longBench = samples.filter { $0.lengthWords != nil }
        if !generated.isEmpty { out += sections(CellTable(generated), axis: "length (tokens)") }
        if !longBench.isEmpty {
            out += longBenchSection(longBench)
            out += sections(CellTable(longBench), axis: "LongBench-E bucket (words)", accuracy: false)
        }
        out += failures(samples)
        out += parameters()
        return out.joined(separator: "\n") + "\n"
    }

    func sections(_ t: CellTable, axis: String, accuracy: Bool = true) -> [String] {
        var out: [String] = []
        if accuracy {
            out += ["## Accuracy by length × engine", ""]
            out.append(Format.table([axis] + t.engines, t.lengths.map { length in
                [length.label] + t.engines.map { e in t.cell(e, length.label).map { Format.meanCell($0.score, $0) } ?? "–" }
            }, rightAligned: Set(1...t.engines.count)))
            out.append("")
        }
        out += ["## Latency by length × engine", ""]
        var latency: [[String]] = []
        var memory: [[String]] = []
        for length in t.lengths {
            for e in t.engines {
                guard let c = t.cell(e, length.label) else { continue }
                latency.append([length.label, e, "\(c.timeToFirstTokenMs.n)", Format.number(c.promptTokens.value, decimals: 0),
                                Format.number(c.timeToFirstTokenMs.value, decimals: 0), Format.number(c.prefillTokensPerSecond.value),
                                Format.number(c.decodeTokensPerSecond.value)])
                memory.append([length.label, e, "\(c.peakRSSBytes.n)", Format.mebibytes(c.peakRSSBytes.value),
                               Format.mebibytes(c.attentionStateBytes.value), "\(c.truncated)"])
            }
        }
        out.append(Format.table([axis, "engine", "n", "prompt tokens", "TTFT ms", "prefill tok/s", "decode tok/s"], latency,
                                rightAligned: [2, 3, 4, 5, 6]))
        out += ["", "## Memory by length × engine", ""]
        out.append(Format.table([axis, "engine", "n", "peak RSS MiB", "attention state MiB", "truncated"], memory,
                                rightAligned: [2, 3, 4, 5]))
        out.append("")
        return out
    }

    func longBenchSection(_ samples: [SampleRecord]) -> [String] {
        let byDataset = CellTable(samples) { ($0.dataset, 0) }
        let datasets = byDataset.lengths.map(\.label).sorted()
        var out = ["## LongBench scores per dataset × engine (×100)", ""]
        out.append(Format.table(["dataset"] + byDataset.engines, datasets.map { d in
            [d] + byDataset.engines.map { e in byDataset.cell(e, d).map { Format.meanCell($0.score, $0, scale: 100) } ?? "–" }
        }, rightAligned: Set(1...byDataset.engines.count)))
        out += ["", "### LongBench-E buckets (by the records' word counts, ×100)", ""]
        let buckets = ["0-4k", "4-8k", "8k+"]
        var rows: [[String]] = []
        for d in datasets {
            let table = CellTable(samples.filter { $0.dataset == d })
            for e in table.engines {
                rows.append([d, e] + buckets.map { b in table.cell(e, b).map { Format.meanCell($0.score, $0, scale: 100) } ?? "–" })
            }
        }
        out.append(Format.table(["dataset", "engine"] + buckets, rows, rightAligned: [2, 3, 4]))
        out.append("")
        return out
    }

    func failures(_ samples: [SampleRecord]) -> [String] {
        let failed = samples.filter { $0.status != .ok }
        guard !failed.isEmpty else { return [] }
        var out = ["## Samples that did not run", ""]
        out.append(Format.table(["engine", "sample", "length", "status", "why"], failed.map {
            [$0.engine, $0.sampleID, LengthAxis.label(tokens: $0.lengthTokens), $0.status.rawValue, $0.error ?? ""]
        }))
        out.append("")
        return out
    }

    func parameters() -> [String] {
        var out = ["## Run parameters", ""]
        for run in runs {
            out.append("### Run \(run.id): \(run.task)")
            out.append("")
            var rows: [[String]] = [
                ["command", "`\(run.command)`"], ["created", run.createdAt], ["finished", run.finishedAt ?? "not finished"],
                ["model", "\(run.modelName): `\(run.modelPath)`"], ["model sha256", run.modelSHA256], ["seed", "\(run.seed)"],
                ["lmbench version", run.lmbenchVersion],
                ["machine", "\(run.machine.cpu), \(run.machine.cores) cores, \(run.machine.memoryBytes >> 30) GiB, \(run.machine.os)"],
                ["samples planned", "\(run.plannedSamples)"],
            ]
            rows += run.tags.sorted { $0.key < $1.key }.map { ["tag \($0.key)", $0.value] }
            for engine in run.engines {
                rows.append(["engine \(engine.label)", engine.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")])
            }
            for (k, v) in run.taskParameters.sorted(by: { $0.key < $1.key }) {
                rows.append(["task \(k)", v.count > 160 ? String(v.prefix(157)) + "…" : v])
            }
            out.append(Format.table(["parameter", "value"], rows))
            out.append("")
        }
        return out
    }
}
