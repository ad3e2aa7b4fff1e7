import GGUF
import Kernels

// Parts every decoder-only architecture here is built from: its hyperparameters read and checked
// from `<arch>.*` keys, a weight loader that checks shapes, and the activation buffers of one forward
// call (the output head is `OutputHead.swift`). An architecture file holds only its own graph.

/// The hyperparameters shared by the transformer architectures, read once from the metadata and
/// range-checked before any arithmetic uses them (a file may carry any numbers at all).
struct TransformerHyperparameters {
    var embeddingSize: Int
    var layers: Int
    var feedForwardSize: Int
    var queryHeads: Int
    var kvHeads: Int
    var headDim: Int
    var normEpsilon: Float
    var trainedContextLength: Int
    /// Rotated dimensions of each head (llama.cpp's n_rot).
    var ropeDimensions: Int
    var ropeBase: Double
    /// Linear position scaling: 1 / `rope.scaling.factor` when `rope.scaling.type` is linear.
    var ropeScale: Double
    /// `<arch>.attention.sliding_window`, when the file names one.
    var slidingWindow: Int?

    /// Limits far above any model lmbench can run, so that products of these numbers cannot overflow.
    static let maxSize = 1 << 20, maxLayers = 4096, maxHeads = 4096

    init(_ m: GGUFMetadata, architecture: String, defaultEpsilon: Double, defaultRopeBase: Double) throws {
        let a = architecture + "."
        let path = m.path
        func check(_ ok: Bool, _ key: String, _ reason: String) throws {
            if !ok { throw ModelError.badHyperparameter(path: path, key: a + key, reason: reason) }
        }
        func count(_ key: String, default fallback: Int? = nil, limit: Int) throws -> Int {
            let value = try fallback.map { try m.int(a + key, default: $0) } ?? m.int(a + key)
            try check(value > 0 && value <= limit, key, "\(value) is not in 1…\(limit)")
            return value
        }
        embeddingSize = try count("embedding_length", limit: Self.maxSize)
        layers = try count("block_count", limit: Self.maxLayers)
        feedForwardSize = try count("feed_forward_length", limit: Self.maxSize)
        queryHeads = try count("attention.head_count", limit: Self.maxHeads)
        kvHeads = try count("attention.head_count_kv", default: queryHeads, limit: Self.maxHeads)
        try check(queryHeads % kvHeads == 0, "attention.head_count_kv", "\(queryHeads) query heads cannot share \(kvHeads) KV heads")
        headDim = try count("attention.key_length", default: embeddingSize / queryHeads, limit: Self.maxSize / queryHeads)
        try check(headDim % 16 == 0, "attention.key_length", "head size \(headDim) is not a multiple of 16")
        let valueLength = try m.int(a + "attention.value_length", default: headDim)
        try check(valueLength == headDim, "attention.value_length", "\(valueLength) differs from the key length \(headDim)")
        let epsilon = try m.double(a + "attention.layer_norm_rms_epsilon", default: defaultEpsilon)
        try check(epsilon > 0 && epsilon < 1, "attention.layer_norm_rms_epsilon", "\(epsilon) is not in (0, 1)")
        normEpsilon = Float(epsilon)
        trainedContextLength = try count("context_length", limit: 1 << 30)
        ropeDimensions = try count("rope.dimension_count", default: headDim, limit: headDim)
        try check(ropeDimensions % 2 == 0, "rope.dimension_count", "\(ropeDimensions) is odd")
        ropeBase = try m.double(a + "rope.freq_base", default: defaultRopeBase)
        try check(ropeBase > 1 && ropeBase.isFinite, "rope.freq_base", "\(ropeBase) is not a base above 1")
        ropeScale = 1
        if m[a + "rope.scaling.type"] != nil, case let type = try m.string(a + "rope.scaling.type"), type != "none" {
            try check(type == "linear", "rope.scaling.type", "\(GGUFError.quoted(type)) scaling is not supported (lmbench implements linear)")
            let factor = try m.double(a + "rope.scaling.factor", default: 1)
            try check(factor >= 1 && factor.isFinite, "rope.scaling.factor", "\(factor) is not a factor of at least 1")
            ropeScale = 1 / factor
        }
        slidingWindow = m[a + "attention.sliding_window"] == nil ? nil : try count("attention.sliding_window", limit: 1 << 30)
    }

    var queryWidth: Int { queryHeads * headDim }
    var kvWidth: Int { kvHeads * headDim }
}

/// Reads an architecture's weights: checks each one's shape, and hands the kernels re-encoded
/// copies of matrices where they read another format faster (the mapped pages of the original are
/// then released, so resident memory holds one copy).
struct WeightLoader {
    let file: GGUFFile
    let reencoded: ReencodedWeights

    init(file: GGUFFile, parallelism: Parallelism) {
        self.file = file
        reencoded = ReencodedWeights(parallelism: parallelism)
    }

    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let tensor = try file.requireTensor(name)
        let w = try WeightMatrix(tensor, in: file)
        guard w.rows == rows, w.cols == cols else {
            throw GGUFError.badTensorShape(path: file.path, tensor: name, reason: "expected [\(cols), \(rows)], found [\(w.cols), \(w.rows)]")
        }
        guard let copy = reencoded.reencoded(w) else { return w }
        file.releaseResidentPages(of: tensor)
        return copy
    }

    /// An F32 vector of `n` values (norm weights, biases, frequency factors).
    func vector(_ name: String, _ n: Int) throws -> UnsafePointer<Float> {
        let t = try file.requireTensor(name)
        guard t.type == .f32, t.elementCount == n else {
            throw GGUFError.badTensorShape(path: file.path, tensor: name, reason: "expected \(n) F32 values, found \(t.elementCount) \(t.type)")
        }
        return t.data.baseAddress!.assumingMemoryBound(to: Float.self)
    }

    /// `vector(name, n)` when the file has the tensor, else nil.
    func optionalVector(_ name: String, _ n: Int) throws -> UnsafePointer<Float>? {
        file.tensor(name) == nil ? nil : try vector(name, n)
    }

    /// The token embedding (`token_embd.weight`, one row per token), and the output head:
    /// `output.weight` when present, else the embedding itself (a tied head).
    func embeddingAndHead(embeddingSize d: Int) throws -> (embedding: WeightMatrix, head: WeightMatrix) {
        let tensor = try file.requireTensor("token_embd.weight")
        let vocabulary = tensor.shape.count > 1 ? tensor.shape[1] : 0
        let embedding = try matrix("token_embd.weight", rows: vocabulary, cols: d)
        let head = file.tensor("output.weight") == nil ? embedding : try matrix("output.weight", rows: vocabulary, cols: d)
        return (embedding, head)
    }
}

/// The activation buffers of one forward call, grown to the largest chunk seen: the residual
/// stream `x`, a normed copy `h`, the projections, and the feed-forward's two halves.
final class TransformerActivations {
    private let shape: TransformerHyperparameters
    private(set) var capacity = 0
    private(set) var x, h, q, k, v, attention, gate, up: UnsafeMutablePointer<Float>!
    private(set) var positions: UnsafeMutablePointer<Int>!

    init(_ shape: TransformerHyperparameters) { self.shape = shape }

    /// Buffers for `tokens` positions, with `positions` filled from `first`.
    func ensure(tokens: Int, firstPosition first: Int) -> TransformerActivations {
        if tokens > capacity {
            release()
            func make(_ n: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: tokens * n)
                p.initialize(repeating: 0, count: tokens * n)
                return p
            }
            let s = shape
            x = make(s.embeddingSize); h = make(s.embeddingSize)
            q = make(s.queryWidth); k = make(s.kvWidth); v = make(s.kvWidth); attention = make(s.queryWidth)
            gate = make(s.feedForwardSize); up = make(s.feedForwardSize)
            positions = .allocate(capacity: tokens)
            capacity = tokens
        }
        for i in 0..<tokens { positions[i] = first + i }
        return self
    }

    func positions(_ count: Int) -> UnsafeBufferPointer<Int> { UnsafeBufferPointer(start: positions, count: count) }

    private func release() {
        for p in [x, h, q, k, v, attention, gate, up] { p?.deallocate() }
        positions?.deallocate()
    }

    deinit { release() }
}
