import Foundation

/// A report as blocks, rendered to Markdown or to XHTML from the same model. Text in blocks may
/// carry the two inline marks lmbench writes, `code` and **bold**; each renderer turns them into its own form.
public struct Document: Sendable {
    public enum Block: Sendable {
        case heading(level: Int, text: String)
        case paragraph(String)
        case table(header: [String], rows: [[String]], rightAligned: Set<Int>)
        case bullets([String])
    }

    public var blocks: [Block] = []

    public init(_ blocks: [Block] = []) { self.blocks = blocks }

    public mutating func heading(_ level: Int, _ text: String) { blocks.append(.heading(level: level, text: text)) }
    public mutating func paragraph(_ text: String) { blocks.append(.paragraph(text)) }
    public mutating func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) {
        blocks.append(.table(header: header, rows: rows, rightAligned: rightAligned))
    }
    public mutating func bullets(_ items: [String]) { if !items.isEmpty { blocks.append(.bullets(items)) } }
    public static func + (a: Document, b: Document) -> Document { Document(a.blocks + b.blocks) }
    public static func += (a: inout Document, b: Document) { a.blocks += b.blocks }

    public var markdown: String {
        blocks.map { block -> String in
            switch block {
            case let .heading(level, text): return String(repeating: "#", count: level) + " " + text
            case let .paragraph(text): return text
            case let .table(header, rows, right): return Format.table(header, rows, rightAligned: right)
            case let .bullets(items): return items.map { "- " + $0 }.joined(separator: "\n")
            }
        }.joined(separator: "\n\n") + "\n"
    }

    /// The blocks as XHTML body elements.
    public var html: String {
        blocks.map { block -> String in
            switch block {
            case let .heading(level, text): return "<h\(level)>\(HTMLPage.inline(text))</h\(level)>\n"
            case let .paragraph(text): return "<p>\(HTMLPage.inline(text))</p>\n"
            case let .bullets(items): return "<ul>\n" + items.map { "<li>\(HTMLPage.inline($0))</li>\n" }.joined() + "</ul>\n"
            case let .table(header, rows, right):
                var html = "<table>\n<thead><tr>" + header.map { "<th>\(HTMLPage.inline($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
                for row in rows {
                    html += "<tr>" + row.enumerated().map { i, c in
                        (right.contains(i) ? "<td class=\"num\">" : "<td>") + HTMLPage.inline(c) + "</td>"
                    }.joined() + "</tr>\n"
                }
                return html + "</tbody>\n</table>\n"
            }
        }.joined()
    }
}

/// One SVG plot of a report: its file name (beside a Markdown report) and caption.
public struct Plot: Sendable {
    public var name: String
    public var title: String
    public var svg: String

    public init(name: String, title: String, svg: String) {
        self.name = name
        self.title = title
        self.svg = svg
    }
}
