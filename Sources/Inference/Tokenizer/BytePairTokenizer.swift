import GGUF

/// The byte-level BPE tokenizer of `tokenizer.ggml.model = "gpt2"`, as llama.cpp runs it
/// (llama-family-spec §5): special tokens are split out of the raw text, the pre-tokenizer named by
/// `tokenizer.ggml.pre` cuts the rest into words, every byte of a word becomes one symbol (GPT-2's
/// byte ↔ character mapping), and within each word adjacent symbols merge by rank, lowest first.
public final class BytePairTokenizer: Tokenizer, @unchecked Sendable {
    private let table: TokenTable
    private let types: [TokenType]
    public let bosID: Int32?
    public let eosID: Int32?
    public let stopTokens: Set<Int32>
    private let addBOS: Bool
    private let addEOS: Bool
    public let preTokenizer: PreTokenizer
    private let specialTokens: SpecialTokenSplitter
    private let merges: MergeTable
    /// The token of each byte's character (§5.2); -1 for the bytes the vocabulary has no token for.
    private let byteTokens: [Int32]
    /// Each NORMAL token's text mapped back to the bytes it stands for, in one pool.
    private let normalBytes: [UInt8]
    private let normalOffsets: [Int]

    public var vocabularySize: Int { table.count }

    public init(file: GGUFFile) throws {
        let m = file.metadata
        let vocabulary = try Vocabulary(file: file)
        let table = vocabulary.table
        self.table = table
        types = vocabulary.types
        bosID = vocabulary.bosID
        eosID = vocabulary.eosID
        stopTokens = vocabulary.endOfGeneration
        specialTokens = vocabulary.specialTokens
        let preTokenizer = try PreTokenizer(pre: m["tokenizer.ggml.pre"] == nil ? nil : try m.string("tokenizer.ggml.pre"),
                                            path: file.path)
        self.preTokenizer = preTokenizer
        addBOS = try m.bool("tokenizer.ggml.add_bos_token", default: preTokenizer.addsBOSByDefault)
        addEOS = try m.bool("tokenizer.ggml.add_eos_token", default: false)
        if addBOS && bosID == nil {
            throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.add_bos_token",
                                               reason: "BOS is to be added but tokenizer.ggml.bos_token_id is not set")
        }
        if addEOS && eosID == nil {
            throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.add_eos_token",
                                               reason: "EOS is to be added but tokenizer.ggml.eos_token_id is not set")
        }

        merges = try MergeTable(lines: try m.strings("tokenizer.ggml.merges"), table: table, path: file.path)
        byteTokens = BytePairTokenizer.byteCharacters.map { Int32(table.lookup(String($0)) ?? -1) }

        var byteOfCharacter: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in BytePairTokenizer.byteCharacters.enumerated() { byteOfCharacter[character] = UInt8(byte) }
        var pool: [UInt8] = [], offsets = [0]
        pool.reserveCapacity(table.pool.count)
        for id in 0..<table.count {
            if vocabulary.types[id] == .normal {
                for character in String(decoding: table.bytes(of: id), as: UTF8.self).unicodeScalars {
                    // A character outside the mapping stands for itself (llama.cpp would print a
                    // `[UNK_BYTE_…]` marker instead).
                    if let byte = byteOfCharacter[character] { pool.append(byte) } else { pool += character.utf8 }
                }
            }
            offsets.append(pool.count)
        }
        normalBytes = pool
        normalOffsets = offsets
    }

    /// GPT-2's byte → character mapping (§5.2): the printable bytes 0x21–0x7E, 0xA1–0xAC and
    /// 0xAE–0xFF stand for themselves, the other 68 in order for U+0100, U+0101, …
    static let byteCharacters: [Unicode.Scalar] = {
        var next: UInt32 = 0x100
        return (0..<256).map { byte in
            switch byte {
            case 0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF:
                return Unicode.Scalar(UInt8(byte))
            default:
                defer { next += 1 }
                return Unicode.Scalar(next)!
            }
        }
    }()

    // MARK: - Encoding

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial && addBOS, let bosID { output.append(bosID) }
        var merger = WordMerger(merges: merges, byteTokens: byteTokens, wholeWords: preTokenizer.ignoresMerges ? table : nil)
        for fragment in specialTokens.partition(Array(text.utf8), parseSpecial: parseSpecial) {
            switch fragment {
            case let .token(id):
                output.append(Int32(id))
            case let .raw(bytes):
                bytes.withUnsafeBufferPointer { bytes in
                    preTokenizer.forEachWord(in: bytes) { word in
                        merger.merge(UnsafeBufferPointer(rebasing: bytes[word]), into: &output)
                    }
                }
            }
        }
        if addSpecial && addEOS, let eosID { output.append(eosID) }
        return output
    }

    // MARK: - Decoding

    /// Bytes per token as llama.cpp's BPE decoder gives them (§5.5): CONTROL and UNKNOWN tokens only
    /// when rendering special tokens, USER_DEFINED ones as their text, NORMAL ones mapped back to
    /// bytes, and the types it does not support not at all. Pre-tokenizers with clean_spaces then
    /// tidy the spaces around punctuation.
    public func decodeBytes(_ ids: [Int32], renderSpecial: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        for raw in ids {
            let id = Int(raw)
            guard id >= 0 && id < table.count else { continue }
            switch types[id] {
            case .control, .unknown:
                if renderSpecial { bytes += table.bytes(of: id) }
            case .userDefined:
                bytes += table.bytes(of: id)
            case .normal:
                bytes += normalBytes[normalOffsets[id]..<normalOffsets[id + 1]]
            case .byte, .unused, .undefined:
                break
            }
        }
        return preTokenizer.cleansSpaces ? BytePairTokenizer.cleaningSpaces(bytes) : bytes
    }

    /// llama.cpp's `clean_spaces` passes over a whole decoded text: drop the space before `? ! . ,`;
    /// turn `" ' "` into `'`; drop the space before `'s 'm 're 've`.
    static func cleaningSpaces(_ text: [UInt8]) -> [UInt8] {
        let space = UInt8(ascii: " "), quote = UInt8(ascii: "'")
        guard !text.isEmpty else { return text }

        var first: [UInt8] = [text[0]]
        first.reserveCapacity(text.count)
        for i in 1..<text.count {
            let x = text[i]
            if text[i - 1] == space && [UInt8(ascii: "?"), UInt8(ascii: "!"), UInt8(ascii: "."), UInt8(ascii: ",")].contains(x) {
                first.removeLast()
            }
            first.append(x)
        }

        // The space after a lone quote is consumed (llama.cpp zeroes it in place), so it cannot
        // also be the space before the next quote.
        var second: [UInt8] = [first[0]]
        second.reserveCapacity(first.count)
        var i = 1
        while i < first.count {
            let x = first[i]
            if x == quote && i + 1 < first.count && first[i - 1] == space && first[i + 1] == space {
                second.removeLast()
                first[i + 1] = 0
                i += 1
            }
            second.append(x)
            i += 1
        }

        var third: [UInt8] = [second[0]]
        third.reserveCapacity(second.count)
        for i in 1..<second.count {
            let x = second[i]
            if second[i - 1] == space && x == quote && i + 1 < second.count {
                let x1 = second[i + 1], x2: UInt8? = i + 2 < second.count ? second[i + 2] : nil
                let reattaches = x1 == UInt8(ascii: "s") || x1 == UInt8(ascii: "m")
                    || ((x1 == UInt8(ascii: "r") || x1 == UInt8(ascii: "v")) && x2 == UInt8(ascii: "e"))
                if reattaches { third.removeLast() }
            }
            third.append(x)
        }
        return third
    }
}

/// The ranked merges of `tokenizer.ggml.merges`, keyed by the ids of the two tokens merged, in an
/// open-addressing hash table: the merge loop looks up every adjacent pair of every word.
struct MergeTable {
    struct Merge {
        /// The merge's index in the file; lower merges first.
        let rank: Int32
        /// The token the two become.
        let merged: Int32
    }

    private static let empty = UInt64.max
    private var keys: [UInt64]
    private var values: [Merge]
    private let shift: UInt64

    /// Each line is `"left right"`, split at the first space after its first byte. Every side and
    /// every result must be a token (Hugging Face's loader demands the same); a pair listed twice
    /// keeps its first rank, as in llama.cpp.
    init(lines: [String], table: TokenTable, path: String) throws {
        var capacityLog2: UInt64 = 4
        while 1 << capacityLog2 < lines.count * 2 { capacityLog2 += 1 }
        keys = [UInt64](repeating: MergeTable.empty, count: 1 << capacityLog2)
        values = [Merge](repeating: Merge(rank: 0, merged: 0), count: 1 << capacityLog2)
        shift = 64 - capacityLog2

        for (rank, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            func fail(_ reason: String) -> Error {
                ModelError.badHyperparameter(path: path, key: "tokenizer.ggml.merges", reason: "merge \(rank) \(GGUFError.quoted(line)) \(reason)")
            }
            guard let space = bytes.dropFirst().firstIndex(of: UInt8(ascii: " ")) else { throw fail("has no space between two tokens") }
            var ids: [Int] = []
            for side in [bytes[..<space], bytes[(space + 1)...], bytes[..<space] + bytes[(space + 1)...]] {
                guard let id = side.withUnsafeBufferPointer({ table.lookup($0) }) else {
                    throw fail("needs \(GGUFError.quoted(String(decoding: side, as: UTF8.self))), which is not a token")
                }
                ids.append(id)
            }
            let key = MergeTable.key(Int32(ids[0]), Int32(ids[1]))
            var slot = slot(of: key)
            while keys[slot] != MergeTable.empty && keys[slot] != key { slot = (slot + 1) & (keys.count - 1) }
            if keys[slot] == MergeTable.empty {
                keys[slot] = key
                values[slot] = Merge(rank: Int32(rank), merged: Int32(ids[2]))
            }
        }
    }

    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    private func slot(of key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The merge of the two tokens, if there is one; symbols without a token (negative ids) never merge.
    func lookup(_ left: Int32, _ right: Int32) -> Merge? {
        guard left >= 0 && right >= 0 else { return nil }
        let key = MergeTable.key(left, right)
        var slot = slot(of: key)
        while true {
            let k = keys[slot]
            if k == key { return values[slot] }
            if k == MergeTable.empty { return nil }
            slot = (slot + 1) & (keys.count - 1)
        }
    }
}

/// BPE within one word at a time (§5.3 step 4), as llama.cpp's `llm_tokenizer_bpe_session` does it:
/// symbols in a linked list, candidate pairs in a priority queue by rank and then position, stale
/// candidates skipped. Scratch storage is reused from word to word.
private struct WordMerger {
    let merges: MergeTable
    let byteTokens: [Int32]
    /// Set when the pre-tokenizer ignores merges: a word that is a token is emitted whole.
    let wholeWords: TokenTable?

    /// Token id of each symbol; -1 for a byte without a token, `removed` once merged into its left.
    private var ids: [Int32] = []
    private var previous: [Int] = []
    private var next: [Int] = []
    /// Candidates as `rank << 32 | left symbol`, so the smallest value is the lowest rank, leftmost.
    private var queue = BinaryHeap<UInt64>(by: >)
    private var mappedWord: [UInt8] = []
    private static let removed: Int32 = -2

    init(merges: MergeTable, byteTokens: [Int32], wholeWords: TokenTable?) {
        self.merges = merges
        self.byteTokens = byteTokens
        self.wholeWords = wholeWords
    }

    mutating func merge(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if let wholeWords, let id = wholeWordToken(word, in: wholeWords) {
            output.append(id)
            return
        }
        ids.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        for (i, byte) in word.enumerated() {
            ids.append(byteTokens[Int(byte)])
            previous.append(i - 1)
            next.append(i + 1 < word.count ? i + 1 : -1)
        }
        queue.removeAll()
        for left in 0..<(word.count - 1) { propose(left, left + 1) }

        while let candidate = queue.pop() {
            let left = Int(candidate & 0xFFFF_FFFF), right = next[left]
            // Skip a candidate whose pair has changed since: the left symbol was merged away, or
            // either side has grown (a grown symbol is another token, so the pair's rank differs).
            guard right >= 0, let merge = merges.lookup(ids[left], ids[right]),
                  UInt64(merge.rank) == candidate >> 32 else { continue }
            ids[left] = merge.merged
            ids[right] = WordMerger.removed
            next[left] = next[right]
            if next[left] >= 0 { previous[next[left]] = left }
            propose(previous[left], left)
            propose(left, next[left])
        }

        // A symbol left without a token is a byte the vocabulary lacks: llama.cpp emits nothing for it.
        var i = 0
        while i >= 0 {
            if ids[i] >= 0 { output.append(ids[i]) }
            i = next[i]
        }
    }

    private mutating func propose(_ left: Int, _ right: Int) {
        guard left >= 0, right >= 0, let merge = merges.lookup(ids[left], ids[right]) else { return }
        queue.push(UInt64(merge.rank) << 32 | UInt64(left))
    }

    /// The token whose text is the whole word in mapped characters, if there is one.
    private mutating func wholeWordToken(_ word: UnsafeBufferPointer<UInt8>, in table: TokenTable) -> Int32? {
        mappedWord.removeAll(keepingCapacity: true)
        for byte in word { mappedWord += BytePairTokenizer.byteCharacters[Int(byte)].utf8 }
        return mappedWord.withUnsafeBufferPointer { table.lookup($0) }.map(Int32.init)
    }
}
