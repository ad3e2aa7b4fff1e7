import GGUF

/// What every GGUF tokenizer reads the same way, as llama.cpp's `llama_vocab::load` does: the token
/// texts and types, BOS and EOS, the tokens that end generation, and the special-token splitter.
struct Vocabulary {
    let table: TokenTable
    let types: [TokenType]
    let bosID: Int32?
    let eosID: Int32?
    /// llama.cpp's end-of-generation set (llama-family-spec §5.1, §6.2).
    let endOfGeneration: Set<Int32>
    let specialTokens: SpecialTokenSplitter

    /// Texts llama.cpp treats as ending generation wherever they occur in a vocabulary.
    private static let endOfGenerationTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<|end_of_text|>", "<EOT>",
    ]

    /// The fill-in-the-middle tokens llama.cpp also stops on (pad, repository, file separator): the
    /// id from the key if the file sets it, else a token with one of these texts.
    private static let fillInTheMiddleStops: [(key: String, texts: [String])] = [
        ("tokenizer.ggml.fim_pad_token_id", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"]),
        ("tokenizer.ggml.fim_rep_token_id", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        ("tokenizer.ggml.fim_sep_token_id", ["<|file_sep|>"]),
    ]

    init(file: GGUFFile) throws {
        let m = file.metadata
        let tokens = try m.strings("tokenizer.ggml.tokens")
        let count = tokens.count
        // llama.cpp warns about empty texts and renames them; they mean the converter lost the
        // vocabulary, and a tokenizer built on it would turn text into nothing without a word.
        if let empty = tokens.firstIndex(where: \.isEmpty) {
            throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.tokens",
                                               reason: "token \(empty) has empty text (\(tokens.lazy.filter(\.isEmpty).count) of \(count) tokens do)")
        }
        guard count > 0 else { throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.tokens", reason: "no tokens") }
        let table = TokenTable(tokens: tokens)
        self.table = table

        var types = [TokenType](repeating: .normal, count: count)
        if m["tokenizer.ggml.token_type"] != nil {
            let raw = try m.ints("tokenizer.ggml.token_type")
            guard raw.count == count else {
                throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.token_type",
                                                   reason: "\(raw.count) token types for \(count) tokens")
            }
            for (id, value) in raw.enumerated() {
                guard let type = TokenType(rawValue: value) else {
                    throw ModelError.badHyperparameter(path: file.path, key: "tokenizer.ggml.token_type",
                                                       reason: "token \(id) has type \(value), which is none of 0–6")
                }
                types[id] = type
            }
        }

        func optionalID(_ key: String) throws -> Int32? {
            guard m[key] != nil else { return nil }
            let id = try m.int(key)
            guard id >= 0 && id < count else {
                throw ModelError.badHyperparameter(path: file.path, key: key, reason: "token id \(id) is outside the vocabulary")
            }
            return Int32(id)
        }
        bosID = try optionalID("tokenizer.ggml.bos_token_id")
        eosID = try optionalID("tokenizer.ggml.eos_token_id")

        var stops = Set<Int32>()
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try optionalID(key) { stops.insert(id) }
        }
        // A token found by its text is re-typed CONTROL, as llama.cpp does with "control-looking"
        // tokens a converter left NORMAL or USER_DEFINED: it is then split out only when special
        // tokens are parsed, and decodes to nothing unless they are rendered.
        var foundByText: [Int] = Vocabulary.endOfGenerationTexts.compactMap { table.lookup($0) }
        for (key, texts) in Vocabulary.fillInTheMiddleStops {
            if let id = try optionalID(key) {
                stops.insert(id)
            } else if let id = texts.compactMap({ table.lookup($0) }).min() {
                // llama.cpp takes whichever candidate its hash map yields first; the lowest id is
                // the same choice whenever a vocabulary has one candidate, and is deterministic.
                foundByText.append(id)
            }
        }
        for id in foundByText {
            stops.insert(Int32(id))
            types[id] = .control
        }
        endOfGeneration = stops
        self.types = types
        specialTokens = SpecialTokenSplitter(table: table, types: types)
    }
}
