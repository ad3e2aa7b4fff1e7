import Foundation
import Results

/// `lmbench export`: stored samples as CSV or JSON lines.
enum ExportCommand {
    static let usage = "lmbench export [--format csv|jsonl] [--run ID[,ID...] | --latest] [--out FILE] [--db PATH]"
    static let summary = "Dumps stored samples (default: of every run), one row per sample per engine, every field."
    static let options: [CommandLineOptions.Option] = [
        .init(name: "format", valueName: "csv|jsonl", help: "Output format (default csv)."),
        .init(name: "run", valueName: "ID[,ID...]", help: "Only these runs."),
        .init(name: "latest", valueName: nil, help: "Only the newest run."),
        .init(name: "out", valueName: "FILE", help: "Write to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static let columns = ["run_id", "engine", "task", "dataset", "sample_id", "sample_key", "length_tokens", "depth", "length_words",
                          "expected", "output", "score", "metric", "prompt_tokens", "truncated", "prefill_ms", "ttft_ms", "decode_ms",
                          "decode_tokens", "decode_tokens_per_second", "peak_rss_bytes", "attention_state_bytes", "status", "error",
                          "finished_at"]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "export", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench export: unexpected argument '\(o.positional[0])'") }
        let format = o.string("format") ?? "csv"
        guard format == "csv" || format == "jsonl" else { throw UsageError("--format must be csv or jsonl, not '\(format)'") }
        let store = try StoreLocation.openExisting(o)
        let ids = try StoreLocation.runIDs(o, store: store) { try store.runs().map(\.id) }
        let rows = try store.samples(runIDs: ids).map(values)
        var out = ""
        if format == "csv" {
            out = columns.joined(separator: ",") + "\n"
            for row in rows { out += row.map(csvField).joined(separator: ",") + "\n" }
        } else {
            for row in rows {
                var object: [String: Any] = [:]
                for (name, value) in zip(columns, row) { object[name] = value ?? NSNull() }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                out += String(decoding: data, as: UTF8.self) + "\n"
            }
        }
        try Output.write(out, to: o.string("out"))
    }

    static func values(_ s: SampleRecord) -> [Any?] {
        [s.runID, s.engine, s.task, s.dataset, s.sampleID, s.sampleKey, s.lengthTokens, s.depth, s.lengthWords,
         s.expected, s.output, s.score, s.metric, s.promptTokens, s.truncated, s.prefillMs, s.timeToFirstTokenMs, s.decodeMs,
         s.decodeTokens, s.decodeTokensPerSecond, s.peakRSSBytes, s.attentionStateBytes, s.status.rawValue, s.error, s.finishedAt]
    }

    static func csvField(_ value: Any?) -> String {
        let text: String
        switch value {
        case nil: return ""
        case let list as [String]: text = list.joined(separator: " | ")
        case let b as Bool: text = b ? "1" : "0"
        case let d as Double: text = String(d)
        default: text = "\(value!)"
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
