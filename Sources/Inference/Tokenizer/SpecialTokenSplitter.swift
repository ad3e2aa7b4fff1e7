/// A run of input text after the special tokens written in it have been split out: either plain
/// text for the tokenizer's own algorithm, or one special token's id.
enum TextFragment {
    case raw(ArraySlice<UInt8>)
    case token(Int)
}

/// Splits special-token texts out of raw text exactly as llama.cpp's `tokenizer_st_partition` does
/// for every tokenizer kind (engine-spec §4.3 step 1): each special token, longest text first,
/// claims its occurrences left to right in the text not yet claimed. CONTROL and UNKNOWN tokens
/// count only when the caller parses special tokens; USER_DEFINED ones always do.
struct SpecialTokenSplitter {
    private let table: TokenTable
    private let types: [TokenType]
    /// Special tokens in the order llama.cpp splits them out: longest text first.
    private let order: [Int]
    /// A byte trie over the special tokens' texts, for finding every occurrence in one pass.
    private let trie: ByteTrie

    init(table: TokenTable, types: [TokenType]) {
        self.table = table
        self.types = types
        let specials = (0..<table.count).filter {
            [.control, .userDefined, .unknown].contains(types[$0]) && !table.range(of: $0).isEmpty
        }
        order = specials.sorted { a, b in
            let la = table.range(of: a).count, lb = table.range(of: b).count
            return la != lb ? la > lb : a < b
        }
        var trie = ByteTrie()
        for id in specials { trie.insert(Array(table.bytes(of: id)), id: id) }
        self.trie = trie
    }

    /// All occurrences are found in one trie pass instead of one search per special token; the
    /// claiming pass then reproduces llama.cpp's token-by-token order.
    func partition(_ text: [UInt8], parseSpecial: Bool) -> [TextFragment] {
        var occurrences: [Int: [Int]] = [:]   // token id → start offsets, ascending
        text.withUnsafeBufferPointer { bytes in
            trie.forEachMatch(in: bytes) { start, id in
                let type = types[id]
                if !parseSpecial && (type == .control || type == .unknown) { return }
                occurrences[id, default: []].append(start)
            }
        }
        guard !occurrences.isEmpty else { return [.raw(text[...])] }
        var claimedBy = [Int32](repeating: -1, count: text.count)
        for id in order {
            guard let starts = occurrences[id] else { continue }
            let length = table.range(of: id).count
            for start in starts where (start..<(start + length)).allSatisfy({ claimedBy[$0] < 0 }) {
                for i in start..<(start + length) { claimedBy[i] = Int32(id) }
            }
        }
        var fragments: [TextFragment] = []
        var i = 0, rawStart = 0
        while i < text.count {
            let id = Int(claimedBy[i])
            if id < 0 { i += 1; continue }
            if rawStart < i { fragments.append(.raw(text[rawStart..<i])) }
            fragments.append(.token(id))
            i += table.range(of: id).count
            rawStart = i
        }
        if rawStart < text.count { fragments.append(.raw(text[rawStart...])) }
        return fragments
    }
}

/// A trie over byte strings that reports, for every offset of a text, the ids of all stored strings
/// starting there.
struct ByteTrie {
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]
    /// The root's children by first byte (-1: none), so that the bytes no special token starts with,
    /// nearly all of a text, cost one array read instead of a dictionary lookup.
    private var rootChildren = [Int32](repeating: -1, count: 256)

    mutating func insert(_ bytes: [UInt8], id: Int) {
        var node = 0
        for b in bytes {
            if let next = children[node][b] {
                node = Int(next)
                continue
            }
            children.append([:])
            terminal.append(-1)
            let child = children.count - 1
            children[node][b] = Int32(child)
            if node == 0 { rootChildren[Int(b)] = Int32(child) }
            node = child
        }
        terminal[node] = Int32(id)
    }

    func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ body: (_ start: Int, _ id: Int) -> Void) {
        rootChildren.withUnsafeBufferPointer { rootChildren in
            for start in 0..<text.count {
                var node = Int(rootChildren[Int(text[start])])
                if node < 0 { continue }
                var i = start + 1
                while true {
                    if terminal[node] >= 0 { body(start, Int(terminal[node])) }
                    guard i < text.count, let next = children[node][text[i]] else { break }
                    node = Int(next)
                    i += 1
                }
            }
        }
    }
}
