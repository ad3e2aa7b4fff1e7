import Foundation

/// One self-contained XHTML page (well-formed XML, so any XML parser reads it) of a report
/// document, with its SVG plots inline.
public enum HTMLPage {
    public static func render(title: String, document: Document, plots: [Plot]) -> String {
        var body = document.html
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

    /// `code` and **bold**, everything else escaped.
    public static func inline(_ text: String) -> String {
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
