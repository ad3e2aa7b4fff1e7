import Foundation
import Reports

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

    /// A report document as Markdown (plots written as SVG files beside `path` and linked) or as
    /// one HTML page (plots inline).
    static func publish(_ document: Document, title: String, plots: [Plot] = [], format: String, to path: String?) throws {
        if format == "html" {
            try write(HTMLPage.render(title: title, document: document, plots: plots), to: path)
            return
        }
        guard let path, !plots.isEmpty else { try write(document.markdown, to: path); return }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let folder = (path as NSString).deletingLastPathComponent
        var text = document.markdown + "\n## Plots\n\n"
        for plot in plots {
            let name = "\(stem)-\(plot.name)"
            try write(plot.svg, to: folder.isEmpty ? name : folder + "/" + name)
            text += "![\(plot.title)](\(name))\n\n"
        }
        try write(text, to: path)
    }
}
