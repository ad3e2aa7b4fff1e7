import GGUF
import Kernels

/// Facts about a model that reports and run records show.
public struct ModelDescription: Sendable, Equatable {
    public var architecture: String
    public var name: String
    public var layers: Int
    public var embeddingSize: Int
    public var queryHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabularySize: Int
    /// The context length the model was trained for (`<arch>.context_length`).
    public var trainedContextLength: Int
}

/// One model architecture's forward pass. An implementation reads its hyperparameters and weights
/// from the GGUF file once, in `init`, and runs chunks of tokens through its layers.
public protocol LanguageModel: AnyObject {
    var description: ModelDescription { get }

    /// What each layer's attention needs to know, in layer order, for forward calls of at most
    /// `maxChunkTokens` positions. Layers with a `slidingWindow` keep it whatever the strategy.
    func attentionLayerSpecs(maxChunkTokens: Int) -> [AttentionLayerSpec]

    /// Runs `tokens` at positions `state.position ..< state.position + tokens.count`, updating the
    /// attention state, then computes what `output` asks for: nothing, the next-token logits after
    /// the last token, or every position's log-probability of a given next token.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, state: SequenceState, output: ForwardOutput)
}

extension LanguageModel {
    /// `forward(_:state:output:)` writing the next-token logits after the last token
    /// (`vocabularySize` floats) when `logits` is given.
    public func forward(_ tokens: UnsafeBufferPointer<Int32>, state: SequenceState, logits: UnsafeMutablePointer<Float>?) {
        forward(tokens, state: state, output: logits.map { .lastLogits($0) } ?? .none)
    }

    /// The layer specs for a sequence expected to reach `reservedPositions` positions (0: not known).
    func attentionLayerSpecs(maxChunkTokens: Int, reservedPositions: Int) -> [AttentionLayerSpec] {
        attentionLayerSpecs(maxChunkTokens: maxChunkTokens).map { spec in
            var spec = spec
            spec.reservedPositions = reservedPositions
            return spec
        }
    }

    /// Per-layer attention for a new sequence: native sliding-window layers keep their window;
    /// global layers attend as `policy` says. Stores that keep every position start with room for
    /// `reservedPositions` (0: not known; they grow as positions come).
    public func makeAttentionLayers(policy: AttentionPolicy, maxChunkTokens: Int, reservedPositions: Int = 0) -> [AttentionLayer] {
        let ropeTables = RotaryTableCache()
        return attentionLayerSpecs(maxChunkTokens: maxChunkTokens, reservedPositions: reservedPositions)
            .map { $0.makeLayer(policy: policy, ropeTables: ropeTables) }
    }

    /// Bytes the attention state of a sequence under `policy`, made with room for `reservedPositions`,
    /// holds after `positions` positions, worked out from the layer specs without making any layer
    /// (the figure of `SequenceState.attentionStateBytes(afterPositions:)`).
    public func attentionStateBytes(policy: AttentionPolicy, maxChunkTokens: Int, reservedPositions: Int = 0, afterPositions positions: Int) -> Int {
        attentionLayerSpecs(maxChunkTokens: maxChunkTokens, reservedPositions: reservedPositions)
            .reduce(0) { $0 + $1.stateBytes(policy: policy, afterPositions: positions) }
    }
}

/// Everything one sequence carries between forward calls: its position and each layer's attention
/// state.
public final class SequenceState {
    public let layers: [AttentionLayer]
    public let policy: AttentionPolicy
    public internal(set) var position = 0

    /// A new sequence; `reservedPositions` (prompt plus new tokens, when known) sizes the stores that
    /// keep every position up front.
    public init(model: LanguageModel, policy: AttentionPolicy, maxChunkTokens: Int, reservedPositions: Int = 0) {
        self.policy = policy
        layers = model.makeAttentionLayers(policy: policy, maxChunkTokens: maxChunkTokens, reservedPositions: reservedPositions)
    }

    /// Bytes held by all layers' attention state.
    public var attentionStateBytes: Int { layers.reduce(0) { $0 + $1.stateBytes } }

    /// Bytes the attention state holds after `positions` positions (without building a state:
    /// `LanguageModel.attentionStateBytes(policy:maxChunkTokens:afterPositions:)`).
    public func attentionStateBytes(afterPositions positions: Int) -> Int {
        layers.reduce(0) { $0 + $1.stateBytes(afterPositions: positions) }
    }
}

/// A GGUF model opened for inference: the mapped file, its tokenizer and its architecture.
public final class LoadedModel {
    public let path: String
    public let file: GGUFFile
    public let tokenizer: Tokenizer
    public let model: LanguageModel
    public let context: ComputeContext

    /// Architectures by `general.architecture`. Adding one is a new file plus one line here.
    static let architectures: [String: (GGUFFile, ComputeContext) throws -> LanguageModel] = [
        "gemma3": { try Gemma3(file: $0, context: $1) },
        "llama": { try Llama(file: $0, context: $1, variant: .llama) },
        "qwen2": { try Llama(file: $0, context: $1, variant: .qwen2) },
    ]

    public init(path: String, parallelism: Parallelism = .allCores) throws {
        self.path = path
        file = try GGUFFile(path: path)
        let architecture = try file.architecture
        guard let make = LoadedModel.architectures[architecture] else {
            throw GGUFError.unsupportedArchitecture(path: path, architecture: architecture,
                                                    supported: LoadedModel.architectures.keys.sorted())
        }
        context = ComputeContext(parallelism: parallelism)
        model = try make(file, context)
        tokenizer = try TokenizerFactory.make(from: file)
        guard model.description.vocabularySize == tokenizer.vocabularySize else {
            throw ModelError.badHyperparameter(path: path, key: "tokenizer.ggml.tokens",
                                               reason: "\(tokenizer.vocabularySize) tokens but the embedding has \(model.description.vocabularySize) rows")
        }
    }
}
