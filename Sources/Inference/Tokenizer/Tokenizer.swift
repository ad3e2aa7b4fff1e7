import GGUF

/// Token types as GGUF stores them (`tokenizer.ggml.token_type`).
public enum TokenType: Int, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Text ↔ token ids for one model.
public protocol Tokenizer: AnyObject, Sendable {
    var vocabularySize: Int { get }
    var bosID: Int32? { get }
    var eosID: Int32? { get }
    /// Tokens that end generation (end of sequence and end of turn).
    var stopTokens: Set<Int32> { get }

    /// Token ids for `text`. `addSpecial` adds BOS/EOS as the model's metadata asks; `parseSpecial`
    /// lets control tokens such as `<start_of_turn>` written in the text become their ids.
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]

    /// The bytes the ids stand for, each id's bytes after the previous one's (byte tokens may split a
    /// character, so a piece of the output need not be UTF-8). Control tokens produce nothing unless
    /// `renderSpecial` is set.
    func decodeBytes(_ ids: [Int32], renderSpecial: Bool) -> [UInt8]
}

extension Tokenizer {
    /// The bytes the ids stand for, decoded as UTF-8 once all are joined.
    public func decode(_ ids: [Int32], renderSpecial: Bool) -> String {
        String(decoding: decodeBytes(ids, renderSpecial: renderSpecial), as: UTF8.self)
    }
}

/// Builds the tokenizer a GGUF file describes.
public enum TokenizerFactory {
    public static func make(from file: GGUFFile) throws -> Tokenizer {
        let model = try file.metadata.string("tokenizer.ggml.model")
        switch model {
        case "llama": return try SentencePieceTokenizer(file: file)
        case "gpt2": return try BytePairTokenizer(file: file)
        default:
            throw ModelError.unsupportedTokenizer(path: file.path, model: model)
        }
    }
}
