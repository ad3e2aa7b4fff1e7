import Kernels

/// What a layer's attention needs to know about the model.
public struct AttentionLayerSpec: Sendable {
    public var layerIndex: Int
    public var queryHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var rope: RotaryEmbedding
    /// The model's own sliding window for this layer (nil: the layer attends globally).
    public var slidingWindow: Int?
    /// The context length the model was trained for (the natural local window of LM-Infinite).
    public var trainedContextLength: Int
    /// Largest number of positions one forward call will bring (sizes ring buffers).
    public var maxChunkTokens: Int
    /// Positions the sequence is expected to reach (prompt plus new tokens; 0 when not known): stores
    /// that keep every position take that room at once.
    public var reservedPositions = 0

    public init(layerIndex: Int, queryHeads: Int, kvHeads: Int, headDim: Int, rope: RotaryEmbedding,
                slidingWindow: Int?, trainedContextLength: Int, maxChunkTokens: Int) {
        self.layerIndex = layerIndex
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.rope = rope
        self.slidingWindow = slidingWindow
        self.trainedContextLength = trainedContextLength
        self.maxChunkTokens = maxChunkTokens
    }
}

extension AttentionLayerSpec {
    /// The layer's attention: its native sliding window when it has one, whatever the strategy;
    /// otherwise as `policy` says.
    func makeLayer(policy: AttentionPolicy, ropeTables: RotaryTableCache) -> AttentionLayer {
        if let slidingWindow { return CachedAttention(spec: self, window: slidingWindow, ropeTables: ropeTables) }
        return policy.makeLayer(self, ropeTables: ropeTables)
    }

    /// Bytes the state of `makeLayer(policy:ropeTables:)` holds after `positions` positions, without making it.
    func stateBytes(policy: AttentionPolicy, afterPositions positions: Int) -> Int {
        if let slidingWindow { return CachedAttention.stateBytes(self, window: slidingWindow, afterPositions: positions) }
        return policy.stateBytes(self, afterPositions: positions)
    }

    /// Rotates `queries` [T][queryHeads][headDim] and `keys` [T][kvHeads][headDim] at their own positions.
    func rotateAtTruePositions(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>,
                               positions: UnsafeBufferPointer<Int>, ropeTables: RotaryTableCache) {
        let t = positions.count
        let table = ropeTables.table(for: rope, positions: positions)
        rope.apply(queries, positionCount: t, positionStride: queryHeads * headDim, vectorsPerPosition: queryHeads, headStride: headDim, table: table)
        rope.apply(keys, positionCount: t, positionStride: kvHeads * headDim, vectorsPerPosition: kvHeads, headStride: headDim, table: table)
    }
}

/// Copies of a layer's raw queries rotated at one fixed position: the queries of the far stage of
/// the attention primitive (`FarKeys`).
final class FarQueries {
    let spec: AttentionLayerSpec
    let position: Int
    private let table: UnsafeMutablePointer<Float>
    private(set) var buffer: UnsafeMutablePointer<Float>
    private var capacity = 0

    init(spec: AttentionLayerSpec, position: Int) {
        self.spec = spec
        self.position = position
        let table = UnsafeMutablePointer<Float>.allocate(capacity: spec.rope.dimensions)
        [position].withUnsafeBufferPointer { spec.rope.fillTable(positions: $0, into: table) }
        self.table = table
        buffer = .allocate(capacity: 1)
    }

    deinit {
        table.deallocate()
        buffer.deallocate()
    }

    /// Rotates `count` head vectors (contiguous, headDim apart) in place at the fixed position.
    func rotate(_ vectors: UnsafeMutablePointer<Float>, count: Int) {
        spec.rope.apply(vectors, positionCount: 1, positionStride: 0, vectorsPerPosition: count, headStride: spec.headDim, table: table)
    }

    /// The `tokens` raw queries, copied and rotated at the fixed position.
    func make(from queries: UnsafePointer<Float>, tokens: Int) -> UnsafeMutablePointer<Float> {
        let n = tokens * spec.queryHeads * spec.headDim
        if capacity < n {
            buffer.deallocate()
            buffer = .allocate(capacity: n)
            capacity = n
        }
        buffer.update(from: queries, count: n)
        rotate(buffer, count: tokens * spec.queryHeads)
        return buffer
    }
}

/// The attention of one layer together with whatever it keeps between calls (its KV state). This is
/// the seam between a model architecture and a long-context strategy: the model supplies queries
/// and keys *before* RoPE (already scaled, already normed), so a strategy may rotate them at any
/// position it likes, and receives the attention output.
public protocol AttentionLayer: AnyObject {
    /// `queries` [T][queryHeads][headDim] and `keys`/`values` [T][kvHeads][headDim] for the
    /// positions `positions` (the next T positions of the sequence); writes `output`
    /// [T][queryHeads][headDim]. `queries` and `keys` may be modified in place. `endsInput` is true
    /// when the last position is one the model produces logits after (the last prompt token, or a
    /// decoded token), the row LM-Infinite's top-k middle tokens apply to.
    func attend(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                positions: UnsafeBufferPointer<Int>, output: UnsafeMutablePointer<Float>, endsInput: Bool, context: ComputeContext)

    /// Bytes this layer holds for its attention state now.
    var stateBytes: Int { get }

    /// Bytes its attention state holds after `positions` positions of a sequence (the same figure
    /// as its policy's `stateBytes(_:afterPositions:)`).
    func stateBytes(afterPositions positions: Int) -> Int
}

/// A long-context attention strategy: how the global-attention layers of a model attend. Layers
/// with a native sliding window keep it whatever the strategy.
public protocol AttentionPolicy: Sendable {
    /// Short name used on the command line and in results (e.g. "full").
    var name: String { get }
    /// The strategy's parameters, recorded with every result.
    var parameters: [String: String] { get }
    func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer
    /// Bytes the state of the layer `makeLayer(spec, …)` makes holds after `positions` positions,
    /// worked out without making it, so that memory can be checked before anything is allocated.
    func stateBytes(_ spec: AttentionLayerSpec, afterPositions positions: Int) -> Int
}

/// Plain causal attention over every earlier position.
public struct FullAttention: AttentionPolicy {
    public init() {}
    public var name: String { "full" }
    public var parameters: [String: String] { [:] }
    public func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer {
        CachedAttention(spec: spec, window: nil, ropeTables: ropeTables)
    }
    public func stateBytes(_ spec: AttentionLayerSpec, afterPositions positions: Int) -> Int {
        CachedAttention.stateBytes(spec, window: nil, afterPositions: positions)
    }
}

/// Causal attention over a KV cache, optionally limited to the last `window` positions (then the
/// cache is a ring of window + chunk slots). Serves full attention and Gemma's sliding-window layers.
final class CachedAttention: AttentionLayer {
    let spec: AttentionLayerSpec
    let window: Int?
    private let store: KeyValueStore
    private let ropeTables: RotaryTableCache

    init(spec: AttentionLayerSpec, window: Int?, ropeTables: RotaryTableCache) {
        self.spec = spec
        self.window = window
        self.ropeTables = ropeTables
        if let window {
            store = KeyValueStore(window: window, of: spec)
        } else {
            store = KeyValueStore(everyPositionOf: spec)
        }
    }

    /// Slots of the cache after `positions` positions: a growable store, or a window ring.
    private static func capacity(_ spec: AttentionLayerSpec, window: Int?, positions: Int) -> Int {
        guard let window else { return KeyValueStore.growableCapacity(reserving: spec.reservedPositions, positions: positions) }
        return KeyValueStore.windowCapacity(window: window, of: spec, positions: positions)
    }

    /// Bytes of the cache of a layer made with `window` after `positions` positions, without making it.
    static func stateBytes(_ spec: AttentionLayerSpec, window: Int?, afterPositions positions: Int) -> Int {
        KeyValueStore.bytes(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: capacity(spec, window: window, positions: positions))
    }

    func attend(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                positions: UnsafeBufferPointer<Int>, output: UnsafeMutablePointer<Float>, endsInput: Bool, context: ComputeContext) {
        let t = positions.count, hd = spec.headDim
        precondition(positions.first == store.nextPosition, "positions must continue the cached sequence")
        spec.rotateAtTruePositions(queries: queries, keys: keys, positions: positions, ropeTables: ropeTables)
        store.append(keys: keys, values: values, count: t)
        let group = spec.queryHeads / spec.kvHeads
        for g in 0..<spec.kvHeads {
            let q = AttentionQueries(queries: queries + g * group * hd, output: output + g * group * hd, tokens: t,
                                     headsPerToken: group, tokenStride: spec.queryHeads * hd, positions: positions.baseAddress!)
            context.attend(q, headDim: hd, spans: store.spans(head: g), window: window ?? .max)
        }
    }

    var stateBytes: Int { store.bytes }

    func stateBytes(afterPositions positions: Int) -> Int {
        CachedAttention.stateBytes(spec, window: window, afterPositions: positions)
    }
}

/// RoPE cos/sin tables for the positions of the current forward call, computed once per distinct
/// rotary configuration and shared by every layer that uses it.
public final class RotaryTableCache {
    private final class Entry {
        let rope: RotaryEmbedding
        var table: UnsafeMutablePointer<Float>
        var capacity: Int
        var firstPosition = -1
        var count = 0

        init(rope: RotaryEmbedding, capacity: Int) {
            self.rope = rope
            self.capacity = capacity
            table = .allocate(capacity: capacity)
        }

        deinit { table.deallocate() }
    }

    private var entries: [Entry] = []

    public init() {}

    /// The table for `positions` (consecutive) under `rope`, in `RotaryEmbedding.fillTable` layout.
    public func table(for rope: RotaryEmbedding, positions: UnsafeBufferPointer<Int>) -> UnsafePointer<Float> {
        let needed = positions.count * rope.dimensions
        let entry: Entry
        if let existing = entries.first(where: { $0.rope == rope }) {
            entry = existing
        } else {
            entry = Entry(rope: rope, capacity: needed)
            entries.append(entry)
        }
        let first = positions.first ?? 0
        if entry.firstPosition == first && entry.count == positions.count { return UnsafePointer(entry.table) }
        if entry.capacity < needed {
            entry.table.deallocate()
            entry.table = .allocate(capacity: needed)
            entry.capacity = needed
        }
        rope.fillTable(positions: positions, into: entry.table)
        entry.firstPosition = first
        entry.count = positions.count
        return UnsafePointer(entry.table)
    }
}
