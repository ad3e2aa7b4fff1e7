import Foundation
import Reports
import Results

/// `lmbench report`: Markdown from the store.
enum ReportCommand {
    static let usage = "lmbench report [--run ID[,ID...] | --latest] [--format md|html] [--out FILE] [--db PATH]"
    static let summary = """
        Writes a report of stored runs (default: the latest): accuracy, latency and memory by length ×
        engine, LongBench scores per dataset with LongBench-E buckets, samples that did not run, and
        every run's parameters. Built from the database alone. With --out, the Markdown report writes
        its plots (SVG: needle heatmap, accuracy, prefill tokens/s and peak memory against length)
        beside the file and links them; --format html writes one self-contained page with the plots inline.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "run", valueName: "ID[,ID...]", help: "Runs to report, side by side."),
        .init(name: "latest", valueName: nil, help: "Report the newest run (the default)."),
        .init(name: "format", valueName: "md|html", help: "Markdown (default) or one self-contained HTML page."),
        .init(name: "out", valueName: "FILE", help: "Write the report to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "report", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench report: unexpected argument '\(o.positional[0])'") }
        let store = try StoreLocation.openExisting(o)
        let ids = try StoreLocation.runIDs(o, store: store) { [try store.latestRunID()] }
        let format = try Output.format(o)
        let report = try MarkdownReport(store: store, runIDs: ids)
        let plots = ReportPlots(samples: report.samples).files
        let title = "lmbench report: run\(ids.count > 1 ? "s" : "") " + ids.map(String.init).joined(separator: ", ")
        try Output.publish(markdown: report.render(), title: title, plots: plots, format: format, to: o.string("out"))
    }
}

/// Standard output, or a file written atomically (its folder created if needed).
enum Output {
    /// `--format md|html` (default md).
    static func format(_ o: CommandLineOptions) throws -> String {
        let format = o.string("format") ?? "md"
        guard format == "md" || format == "html" else { throw UsageError("--format must be md or html, not '\(format)'") }
        return format
    }

    /// `--threshold X` in 0…1 (default 0.85), the accuracy an effective length must keep.
    static func threshold(_ o: CommandLineOptions) throws -> Double {
        try o.string("threshold").map { text -> Double in
            guard let v = Double(text), (0...1).contains(v) else { throw UsageError("--threshold must be a number from 0 to 1, not '\(text)'") }
            return v
        } ?? 0.85
    }

    static func write(_ text: String, to path: String?) throws {
        guard let path else { print(text, terminator: ""); return }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CommandError("\(path): cannot write: \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(path)\n".utf8))
    }

    /// A report as Markdown (plots written as SVG files beside `path` and linked) or as one HTML page
    /// (plots inline).
    static func publish(markdown: String, title: String, plots: [(name: String, title: String, svg: String)], format: String,
                        to path: String?) throws {
        if format == "html" {
            try write(HTMLPage.render(title: title, markdown: markdown, plots: plots.map { ($0.title, $0.svg) }), to: path)
            return
        }
        guard let path, !plots.isEmpty else { try write(markdown, to: path); return }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let folder = (path as NSString).deletingLastPathComponent
        var text = markdown + "\n## Plots\n\n"
        for plot in plots {
            let name = "\(stem)-\(plot.name)"
            try write(plot.svg, to: folder.isEmpty ? name : folder + "/" + name)
            text += "![\(plot.title)](\(name))\n\n"
        }
        try write(text, to: path)
    }
}
