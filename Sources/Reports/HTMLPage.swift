import Foundation

/// One self-contained XHTML page (well-formed XML, so any XML parser reads it) from the project's
/// Markdown, with SVG plots inline.
public enum HTMLPage {
    public static func render(title: String, markdown: String, plots: [(title: String, svg: String)]) -> String {
        var body = convert(markdown)
        if !plots.isEmpty {
            body += "<h2>Plots</h2>\n"
            for plot in plots { body += "<figure>\n\(plot.svg)<figcaption>\(xmlEscape(plot.title))</figcaption></figure>\n" }
        }
        return """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>\(xmlEscape(title))</title>
            <style>
            body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #1f2328; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }
            th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
            th { background: #f6f8fa; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            code { background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
            figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
            figcaption { font-size: 13px; color: #57606a; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    /// The Markdown subset lmbench writes: headings, pipe tables, bullet lists, paragraphs, `code`, **bold**.
    static func convert(_ markdown: String) -> String {
        var html = ""
        var lines = markdown.components(separatedBy: "\n")[...]
        while let line = lines.first {
            if line.hasPrefix("|") {
                var block: [String] = []
                while let l = lines.first, l.hasPrefix("|") { block.append(l); lines.removeFirst() }
                html += table(block)
            } else if line.hasPrefix("- ") {
                html += "<ul>\n"
                while let l = lines.first, l.hasPrefix("- ") { html += "<li>\(inline(String(l.dropFirst(2))))</li>\n"; lines.removeFirst() }
                html += "</ul>\n"
            } else if line.hasPrefix("#") {
                let level = min(6, line.prefix { $0 == "#" }.count)
                html += "<h\(level)>\(inline(line.dropFirst(level).trimmingCharacters(in: .whitespaces)))</h\(level)>\n"
                lines.removeFirst()
            } else if line.trimmingCharacters(in: .whitespaces).isEmpty {
                lines.removeFirst()
            } else {
                var paragraph: [String] = []
                while let l = lines.first, !l.trimmingCharacters(in: .whitespaces).isEmpty, !l.hasPrefix("|"), !l.hasPrefix("#"), !l.hasPrefix("- ") {
                    paragraph.append(l)
                    lines.removeFirst()
                }
                html += "<p>\(inline(paragraph.joined(separator: " ")))</p>\n"
            }
        }
        return html
    }

    static func cells(_ row: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var escaped = false
        for c in row.trimmingCharacters(in: .whitespaces).dropFirst().dropLast() {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "|" { cells.append(current.trimmingCharacters(in: .whitespaces)); current = ""; continue }
            current.append(c)
        }
        cells.append(current.trimmingCharacters(in: .whitespaces))
        return cells
    }

    static func table(_ rows: [String]) -> String {
        guard rows.count >= 2 else { return "" }
        let header = cells(rows[0]), alignment = cells(rows[1]).map { $0.hasSuffix(":") }
        var html = "<table>\n<thead><tr>" + header.map { "<th>\(inline($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows.dropFirst(2) {
            html += "<tr>" + cells(row).enumerated().map { i, c in
                (i < alignment.count && alignment[i] ? "<td class=\"num\">" : "<td>") + inline(c) + "</td>"
            }.joined() + "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    /// `code` and **bold**, everything else escaped.
    static func inline(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("`"), let close = rest.dropFirst().firstIndex(of: "`") {
                out += "<code>" + xmlEscape(String(rest[rest.index(after: rest.startIndex)..<close])) + "</code>"
                rest = rest[rest.index(after: close)...]
            } else if rest.hasPrefix("**"), let close = rest.dropFirst(2).range(of: "**") {
                out += "<strong>" + xmlEscape(String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close.lowerBound])) + "</strong>"
                rest = rest[close.upperBound...]
            } else {
                out += xmlEscape(String(rest.first!))
                rest = rest.dropFirst()
            }
        }
        return out
    }
}
