import GGUF

/// The SentencePiece-style BPE tokenizer of `tokenizer.ggml.model = "llama"`, as llama.cpp runs it
/// (engine-spec §4): special tokens are split out of the raw text first, spaces become "▁", adjacent
/// symbols merge by score through a priority queue, and unknown characters fall back to byte tokens.
public final class SentencePieceTokenizer: Tokenizer, @unchecked Sendable {
    private let table: TokenTable
    private let scores: [Float]
    private let types: [TokenType]
    public let bosID: Int32?
    public let eosID: Int32?
    public let stopTokens: Set<Int32>
    private let addBOS: Bool
    private let addEOS: Bool
    private let addSpacePrefix: Bool
    /// Id of `<0xHH>` for each byte value (or of the one-character text when that token is missing).
    private let byteTokens: [Int32]
    private let specialTokens: SpecialTokenSplitter

    public var vocabularySize: Int { table.count }

    public init(file: GGUFFile) throws {
        let m = file.metadata
        let vocabulary = try Vocabulary(file: file)
        table = vocabulary.table
        types = vocabulary.types
        bosID = vocabulary.bosID
        eosID = vocabulary.eosID
        stopTokens = vocabulary.endOfGeneration
        specialTokens = vocabulary.specialTokens
        let count = table.count
        scores = m["tokenizer.ggml.scores"] == nil ? [Float](repeating: 0, count: count) : try m.floats("tokenizer.ggml.scores")
        guard scores.count == count else {
            throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.scores",
                                               reason: "\(scores.count) scores for \(count) tokens")
        }
        addBOS = try m.bool("tokenizer.ggml.add_bos_token", default: true)
        addEOS = try m.bool("tokenizer.ggml.add_eos_token", default: false)
        addSpacePrefix = try m.bool("tokenizer.ggml.add_space_prefix", default: true)

        // Every byte needs a token: text without a piece falls back to bytes, and llama.cpp fails on
        // a byte the vocabulary lacks, where dropping it would silently change the prompt.
        var bytes: [Int32] = []
        for b in 0..<256 {
            let hex = String(b, radix: 16, uppercase: true)
            let name = "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
            guard let id = table.lookup(name) ?? (b < 0x80 ? table.lookup(String(Unicode.Scalar(UInt8(b)))) : nil) else {
                throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.tokens",
                                                   reason: "no token for the byte \(name), which SentencePiece falls back to")
            }
            bytes.append(Int32(id))
        }
        byteTokens = bytes
    }

    // MARK: - Encoding

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial && addBOS, let bosID { output.append(bosID) }
        var isPreviousSpecial = true
        for fragment in specialTokens.partition(Array(text.utf8), parseSpecial: parseSpecial) {
            switch fragment {
            case let .token(id):
                output.append(Int32(id))
                isPreviousSpecial = true
            case let .raw(bytes):
                var escaped: [UInt8] = []
                escaped.reserveCapacity(bytes.count + bytes.count / 2 + 3)
                if addSpacePrefix && isPreviousSpecial { escaped += [0xE2, 0x96, 0x81] }
                for b in bytes {
                    if b == 0x20 { escaped += [0xE2, 0x96, 0x81] } else { escaped.append(b) }
                }
                mergeBigrams(escaped, into: &output)
                isPreviousSpecial = false
            }
        }
        if addSpecial && addEOS, let eosID { output.append(eosID) }
        return output
    }

    private struct Symbol {
        var start: Int
        var length: Int
        var previous: Int
        var next: Int
    }

    private struct Bigram {
        var score: Float
        var left: Int
        var right: Int
        var length: Int
    }

    /// Score-ordered bigram merging over the UTF-8 characters of one escaped fragment (engine-spec
    /// §4.3 step 4), then token lookup with byte fallback.
    private func mergeBigrams(_ text: [UInt8], into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        text.withUnsafeBufferPointer { bytes in
            var symbols: [Symbol] = []
            symbols.reserveCapacity(text.count)
            var offset = 0
            while offset < text.count {
                let length = min(SentencePieceTokenizer.utf8Length(bytes[offset]), text.count - offset)
                symbols.append(Symbol(start: offset, length: length, previous: symbols.count - 1, next: symbols.count + 1))
                offset += length
            }
            symbols[symbols.count - 1].next = -1

            // Highest score first; on equal scores the leftmost pair.
            var queue = BinaryHeap<Bigram> { a, b in a.score < b.score || (a.score == b.score && a.left > b.left) }
            func tryAdd(_ left: Int, _ right: Int) {
                guard left >= 0, right >= 0 else { return }
                let start = symbols[left].start, length = symbols[left].length + symbols[right].length
                guard let id = table.lookup(UnsafeBufferPointer(rebasing: bytes[start..<(start + length)])) else { return }
                queue.push(Bigram(score: scores[id], left: left, right: right, length: length))
            }
            for i in 1..<symbols.count { tryAdd(i - 1, i) }
            while let bigram = queue.pop() {
                let left = symbols[bigram.left], right = symbols[bigram.right]
                // Skip stale candidates: one side already merged away or grown since.
                guard left.length > 0, right.length > 0, left.length + right.length == bigram.length else { continue }
                symbols[bigram.left].length += right.length
                symbols[bigram.right].length = 0
                symbols[bigram.left].next = right.next
                if right.next >= 0 { symbols[right.next].previous = bigram.left }
                tryAdd(left.previous, bigram.left)
                tryAdd(bigram.left, right.next)
            }

            var i = 0
            while i >= 0 {
                let symbol = symbols[i]
                let piece = UnsafeBufferPointer(rebasing: bytes[symbol.start..<(symbol.start + symbol.length)])
                if let id = table.lookup(piece) {
                    output.append(Int32(id))
                } else {
                    // Candidates only ever form tokens, so a non-token symbol is one unmerged
                    // character: emit its bytes.
                    for b in piece { output.append(byteTokens[Int(b)]) }
                }
                i = symbol.next
            }
        }
    }

    private static func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }

    // MARK: - Decoding

    public func decodeBytes(_ ids: [Int32], renderSpecial: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        for raw in ids {
            let id = Int(raw)
            guard id >= 0 && id < table.count else { continue }
            let piece = table.bytes(of: id)
            switch types[id] {
            case .control, .unknown, .unused, .undefined:
                if renderSpecial { bytes += piece }
            case .userDefined:
                bytes += piece
            case .byte:
                bytes.append(SentencePieceTokenizer.byteValue(piece) ?? 0x3F)
            case .normal:
                var i = piece.startIndex
                while i < piece.endIndex {
                    if piece[i] == 0xE2, i + 2 < piece.endIndex, piece[i + 1] == 0x96, piece[i + 2] == 0x81 {
                        bytes.append(0x20)
                        i += 3
                    } else {
                        bytes.append(piece[i])
                        i += 1
                    }
                }
            }
        }
        return bytes
    }

    /// The value of a `<0xHH>` token.
    private static func byteValue(_ piece: ArraySlice<UInt8>) -> UInt8? {
        let text = String(decoding: piece, as: UTF8.self)
        guard text.hasPrefix("<0x"), text.hasSuffix(">"), text.count == 6 else { return piece.count == 1 ? piece.first : nil }
        return UInt8(text.dropFirst(3).dropLast(), radix: 16)
    }
}
