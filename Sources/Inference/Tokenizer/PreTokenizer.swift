import GGUF

/// How `tokenizer.ggml.pre` cuts raw text into the words byte-level BPE merges within, as llama.cpp
/// does it (llama-family-spec §5.4). A pre-tokenizer is a chain of regexes; each one splits every
/// piece the previous one produced, and both its matches and the gaps between them become pieces,
/// so nothing crosses an earlier boundary. The regexes are hand-written here after llama.cpp's own
/// splitters (`unicode_regex_split_custom_gpt2`/`_llama3`), which are what it actually runs.
public struct PreTokenizer: Sendable {
    /// One regex of a chain.
    enum Splitter: Sendable {
        /// `\p{N}`: every number character alone.
        case eachNumber
        /// `\p{N}+`.
        case numberRuns
        /// `[0-9]{3}`: ASCII digits in threes from the left.
        case asciiDigitTriples
        /// `[\p{P}$+<=>^~|]+`.
        case punctuationRuns
        /// GPT-2's G: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
        case gpt2
        /// Llama 3's L3 with `\p{N}{1,maxDigits}`: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
        /// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`. Qwen2 takes digits one at a time.
        case llama3(maxDigits: Int)
    }

    /// The `tokenizer.ggml.pre` value, "default" when the file has none.
    public let name: String
    let splitters: [Splitter]
    /// What llama.cpp sets alongside the chain for this `pre`: whether decoding tidies the spaces
    /// around punctuation (§5.5), whether a word that already is a token skips the merges, and
    /// whether BOS is added when `tokenizer.ggml.add_bos_token` is absent.
    let cleansSpaces: Bool
    let ignoresMerges: Bool
    let addsBOSByDefault: Bool

    /// The chain for a `tokenizer.ggml.pre` value; `nil` (the key is missing) means `default`, as in
    /// llama.cpp. A value lmbench does not know is an error rather than llama.cpp's silent fallback
    /// to `default`, which would tokenize differently from the model's own tokenizer.
    public init(pre: String?, path: String) throws {
        let name = pre ?? "default"
        self.name = name
        let digitsThenGPT2: [Splitter] = [.eachNumber, .gpt2]
        switch name {
        case "smollm", "command-r":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = (digitsThenGPT2, false, false, false)
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = (digitsThenGPT2, true, false, false)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "gigachat", "a.x-4.0", "mellum", "exaone4":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = ([.gpt2], true, false, false)
        case "default":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) =
                ([.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples], true, false, false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = ([.llama3(maxDigits: 3)], true, true, true)
        case "qwen2", "deepseek-r1-qwen", "kormo":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = ([.llama3(maxDigits: 1)], false, false, false)
        case "megrez":
            (splitters, cleansSpaces, ignoresMerges, addsBOSByDefault) = ([.llama3(maxDigits: 1)], true, false, false)
        default:
            throw ModelError.badHyperparameter(
                path: path, key: "tokenizer.ggml.pre",
                reason: "unknown pre-tokenizer \(GGUFError.quoted(name)) "
                    + "(lmbench knows the smollm, gpt-2, default, llama3 and qwen2 chains and their aliases)")
        }
    }

    /// The words of `text` as BPE sees them (special tokens are not split out here), for inspection.
    public func words(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        var words: [String] = []
        bytes.withUnsafeBufferPointer { bytes in
            forEachWord(in: bytes) { words.append(String(decoding: bytes[$0], as: UTF8.self)) }
        }
        return words
    }

    /// Calls `body` with the byte range of each word of `bytes` (one raw fragment), in order.
    func forEachWord(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        guard !bytes.isEmpty else { return }
        var scalars: [Unicode.Scalar] = []
        var classes: [CharacterClass] = []
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        CharacterClass.basicPlane.withUnsafeBufferPointer { basicPlane in
            var i = 0
            while i < bytes.count {
                let length = PreTokenizer.sequenceLength(bytes, at: i)
                var value = length == 1 ? UInt32(bytes[i]) : UInt32(bytes[i]) & (0x7F >> UInt32(length))
                for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
                // Text from a Swift String is valid UTF-8; an invalid sequence would decode to U+FFFD,
                // as llama.cpp decodes each invalid byte.
                let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
                scalars.append(scalar)
                classes.append(scalar.value < 0x10000 ? basicPlane[Int(scalar.value)] : CharacterClass(scalar))
                i += length
            }
        }

        var ends = [scalars.count]   // end of each piece; the first starts at 0
        scalars.withUnsafeBufferPointer { scalars in
            classes.withUnsafeBufferPointer { classes in
                let text = ClassifiedText(scalars: scalars, classes: classes)
                for splitter in splitters {
                    var refined: [Int] = []
                    refined.reserveCapacity(scalars.count / 3 + ends.count)
                    var start = 0
                    for end in ends {
                        text.split(start..<end, by: splitter, into: &refined)
                        start = end
                    }
                    ends = refined
                }
            }
        }

        // Back from scalar to byte offsets, stepping with the decoder's own sequence lengths.
        var byte = 0, scalar = 0
        for end in ends {
            let start = byte
            while scalar < end {
                byte += PreTokenizer.sequenceLength(bytes, at: byte)
                scalar += 1
            }
            body(start..<byte)
        }
    }

    /// The length of the UTF-8 sequence a lead byte announces, cut at the end of the text (llama.cpp's
    /// `unicode_len_utf8`: a stray continuation byte counts as one).
    private static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let lead = bytes[i]
        let length = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        return min(length, bytes.count - i)
    }
}

/// The character properties the chains test, one byte per scalar.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8

    /// `\p{L}`: any letter category.
    static let letter = CharacterClass(rawValue: 1)
    /// `\p{N}`: any number category (`①`, `½`, `²` too).
    static let number = CharacterClass(rawValue: 2)
    /// `\s`: ASCII whitespace plus U+0085, U+00A0, U+1680, U+2000–200A, U+2028/9, U+202F, U+205F, U+3000.
    static let whitespace = CharacterClass(rawValue: 4)
    /// `[\p{P}$+<=>^~|]`, what the `default` chain cuts out first.
    static let defaultPunctuation = CharacterClass(rawValue: 8)
    /// Past the end of the piece being split: it matches no class, and is not `[^\s\p{L}\p{N}]` either.
    static let outside = CharacterClass(rawValue: 16)

    /// `[^\s\p{L}\p{N}]` inside the piece.
    var isOther: Bool { isDisjoint(with: [.letter, .number, .whitespace, .outside]) }

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ scalar: Unicode.Scalar) {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            self = .defaultPunctuation
        default:
            self = "$+<=>^~|".unicodeScalars.contains(scalar) ? .defaultPunctuation : []
        }
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            insert(.whitespace)
        default:
            break
        }
    }

    /// The classes of U+0000–U+FFFF, computed once: nearly all text is there, and a table read is
    /// much cheaper than a general-category lookup. (Surrogate code points never occur in scalars.)
    static let basicPlane: [CharacterClass] = (0..<0x10000).map { Unicode.Scalar(UInt32($0)).map(CharacterClass.init) ?? [] }
}

/// One fragment's scalars and their classes, which the splitters cut into pieces.
private struct ClassifiedText {
    let scalars: UnsafeBufferPointer<Unicode.Scalar>
    let classes: UnsafeBufferPointer<CharacterClass>

    /// Appends the end offset of each piece `splitter` cuts `piece` into.
    func split(_ piece: Range<Int>, by splitter: PreTokenizer.Splitter, into ends: inout [Int]) {
        switch splitter {
        case .eachNumber: splitEachNumber(piece, into: &ends)
        case .numberRuns: splitRuns(of: .number, piece, into: &ends)
        case .asciiDigitTriples: splitASCIIDigitTriples(piece, into: &ends)
        case .punctuationRuns: splitRuns(of: .defaultPunctuation, piece, into: &ends)
        case .gpt2: splitGPT2(piece, into: &ends)
        case let .llama3(maxDigits): splitLlama3(piece, maxDigits: maxDigits, into: &ends)
        }
    }

    private func splitEachNumber(_ piece: Range<Int>, into ends: inout [Int]) {
        var gapStart = piece.lowerBound
        for i in piece where classes[i].contains(.number) {
            if gapStart < i { ends.append(i) }
            ends.append(i + 1)
            gapStart = i + 1
        }
        if gapStart < piece.upperBound { ends.append(piece.upperBound) }
    }

    /// `[class]+`: the runs of the class and the runs between them.
    private func splitRuns(of member: CharacterClass, _ piece: Range<Int>, into ends: inout [Int]) {
        var i = piece.lowerBound
        while i < piece.upperBound {
            let isMember = classes[i].contains(member)
            i += 1
            while i < piece.upperBound && classes[i].contains(member) == isMember { i += 1 }
            ends.append(i)
        }
    }

    private func splitASCIIDigitTriples(_ piece: Range<Int>, into ends: inout [Int]) {
        func isDigit(_ i: Int) -> Bool { ("0"..."9").contains(scalars[i]) }
        var i = piece.lowerBound, gapStart = piece.lowerBound
        while i < piece.upperBound {
            if i + 3 <= piece.upperBound && isDigit(i) && isDigit(i + 1) && isDigit(i + 2) {
                if gapStart < i { ends.append(i) }
                i += 3
                ends.append(i)
                gapStart = i
            } else {
                i += 1
            }
        }
        if gapStart < piece.upperBound { ends.append(piece.upperBound) }
    }

    /// The three runs both chains take after an optional space: ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`.
    private enum Run {
        case letters, numbers, others

        init?(startingWith c: CharacterClass) {
            if c.contains(.letter) { self = .letters } else if c.contains(.number) { self = .numbers } else if c.isOther { self = .others } else { return nil }
        }

        func admits(_ c: CharacterClass) -> Bool {
            switch self {
            case .letters: return c.contains(.letter)
            case .numbers: return c.contains(.number)
            case .others: return c.isOther
            }
        }
    }

    /// The length of `'s 't 're 've 'm 'll 'd` at `pos`, 0 if there is none. Llama 3 matches them in
    /// any case; only ASCII letters lower-case to these, so ASCII folding is exact.
    private func contractionLength(at pos: Int, end: Int, anyCase: Bool) -> Int {
        guard scalars[pos] == "'", pos + 1 < end else { return 0 }
        func letter(_ i: Int) -> Unicode.Scalar {
            let c = scalars[i]
            return anyCase && ("A"..."Z").contains(c) ? Unicode.Scalar(UInt8(truncatingIfNeeded: c.value | 0x20)) : c
        }
        switch letter(pos + 1) {
        case "s", "t", "m", "d": return 2
        case "r", "v": return pos + 2 < end && letter(pos + 2) == "e" ? 3 : 0
        case "l": return pos + 2 < end && letter(pos + 2) == "l" ? 3 : 0
        default: return 0
        }
    }

    private func isLineBreak(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }

    /// The class at `i`, or `.outside` past the piece's end (llama.cpp's empty flags there).
    private func classAt(_ i: Int, _ end: Int) -> CharacterClass { i < end ? classes[i] : .outside }

    /// The whitespace run at `pos`: where `\s+(?!\S)|\s+` ends it (before a non-space its last
    /// character is left to start the next piece, which it joins only if it is a plain space; at the
    /// piece's end the run stays whole), and the offset just after its last line break, if any.
    private func whitespaceRun(at pos: Int, end: Int) -> (end: Int, afterLastLineBreak: Int?) {
        var i = pos
        var afterLastLineBreak: Int?
        while i < end && classes[i].contains(.whitespace) {
            if isLineBreak(scalars[i]) { afterLastLineBreak = i + 1 }
            i += 1
        }
        return (i - pos > 1 && i < end ? i - 1 : i, afterLastLineBreak)
    }

    private func splitGPT2(_ piece: Range<Int>, into ends: inout [Int]) {
        let end = piece.upperBound
        var pos = piece.lowerBound
        while pos < end {
            let contraction = contractionLength(at: pos, end: end, anyCase: false)
            let spaced = scalars[pos] == " "
            if contraction > 0 {
                pos += contraction
            } else if let run = Run(startingWith: spaced ? classAt(pos + 1, end) : classes[pos]) {
                pos += spaced ? 1 : 0
                while run.admits(classAt(pos, end)) { pos += 1 }
            } else {
                pos = whitespaceRun(at: pos, end: end).end
            }
            ends.append(pos)
        }
    }

    private func splitLlama3(_ piece: Range<Int>, maxDigits: Int, into ends: inout [Int]) {
        let end = piece.upperBound
        var pos = piece.lowerBound
        while pos < end {
            let contraction = contractionLength(at: pos, end: end, anyCase: true)
            let c = scalars[pos], k = classes[pos]
            if contraction > 0 {
                pos += contraction
            } else if !isLineBreak(c) && !k.contains(.number) && (k.contains(.letter) || classAt(pos + 1, end).contains(.letter)) {
                // `[^\r\n\p{L}\p{N}]?\p{L}+`: one character other than a line break or number may lead.
                pos += 1
                while classAt(pos, end).contains(.letter) { pos += 1 }
            } else if k.contains(.number) {
                let start = pos
                while pos - start < maxDigits && classAt(pos, end).contains(.number) { pos += 1 }
            } else if (c == " " ? classAt(pos + 1, end) : k).isOther {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                pos += c == " " ? 1 : 0
                while classAt(pos, end).isOther { pos += 1 }
                while pos < end && isLineBreak(scalars[pos]) { pos += 1 }
            } else {
                // `\s*[\r\n]+` takes a whitespace run up to its last line break; without one, as in G.
                let run = whitespaceRun(at: pos, end: end)
                pos = run.afterLastLineBreak ?? run.end
            }
            ends.append(pos)
        }
    }
}
