import Foundation
import Results

/// `lmbench export`: stored samples as CSV or JSON lines.
enum ExportCommand {
    static let usage = "lmbench export [--format csv|jsonl] [--run ID[,ID...] | --latest] [--out FILE] [--db PATH]"
    static let summary = """
        Dumps stored samples (default: of every run), one row per sample per engine: every column of
        the samples table, then `figures`, the sample's named extra figures as a JSON object.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "format", valueName: "csv|jsonl", help: "Output format (default csv)."),
        .init(name: "run", valueName: "ID[,ID...]", help: "Only these runs."),
        .init(name: "latest", valueName: nil, help: "Only the newest run."),
        .init(name: "out", valueName: "FILE", help: "Write to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    /// The export's columns: the table's, then the figures.
    static var columns: [String] { SampleRecord.table.columns.map(\.name) + ["figures"] }

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "export", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench export: unexpected argument '\(o.positional[0])'") }
        let format = o.string("format") ?? "csv"
        guard format == "csv" || format == "jsonl" else { throw UsageError("--format must be csv or jsonl, not '\(format)'") }
        let store = try StoreLocation.openForReading(o)
        let ids = try StoreLocation.runIDs(o, store: store) { try store.runs().map(\.id) }
        let samples = try store.samples(runIDs: ids)
        var out = ""
        if format == "csv" {
            out = columns.joined(separator: ",") + "\n"
            for s in samples {
                out += (SampleRecord.table.columns.map { csvField($0.value(of: s)) } + [csvField(.text(figuresJSON(s)))]).joined(separator: ",") + "\n"
            }
        } else {
            for s in samples {
                var object: [String: Any] = [:]
                for column in SampleRecord.table.columns { object[column.name] = jsonValue(column.value(of: s), isJSON: column.isJSON) }
                object["figures"] = s.figures
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                out += String(decoding: data, as: UTF8.self) + "\n"
            }
        }
        try Output.write(out, to: o.string("out"))
    }

    static func figuresJSON(_ s: SampleRecord) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: s.figures, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func jsonValue(_ value: SQLValue, isJSON: Bool) -> Any {
        switch value {
        case .null: return NSNull()
        case let .integer(v): return v
        case let .real(v): return v
        case let .text(v):
            guard isJSON else { return v }
            return (try? JSONSerialization.jsonObject(with: Data(v.utf8), options: [.fragmentsAllowed])) ?? v
        }
    }

    static func csvField(_ value: SQLValue) -> String {
        let text: String
        switch value {
        case .null: return ""
        case let .integer(v): text = String(v)
        case let .real(v): text = String(v)
        case let .text(v): text = v
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
