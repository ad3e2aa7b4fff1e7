import GGUF

/// Problems with a model that the file format itself does not cover. One line each, naming the file.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedTokenizer(path: String, model: String)
    case badHyperparameter(path: String, key: String, reason: String)
    case tokenOutsideVocabulary(token: Int32, vocabularySize: Int)
    case outOfMemory(path: String, needed: Int, available: Int, what: String)

    public var description: String {
        switch self {
        case let .unsupportedTokenizer(path, model):
            return "\(path): tokenizer.ggml.model \(GGUFError.quoted(model)) is not supported (lmbench implements 'llama', the SentencePiece BPE, and 'gpt2', the byte-level BPE)"
        case let .badHyperparameter(path, key, reason):
            return "\(path): bad hyperparameter '\(key)': \(reason)"
        case let .tokenOutsideVocabulary(token, vocabularySize):
            return "token id \(token) is outside the model's vocabulary of \(vocabularySize) tokens"
        case let .outOfMemory(path, needed, available, what):
            return "\(path): \(what) needs \(needed / (1 << 20)) MiB but only \(available / (1 << 20)) MiB of memory is available"
        }
    }
}
