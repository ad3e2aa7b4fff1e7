import Kernels

/// LM-Infinite (Han et al.; long-context-methods §1): a Λ-shaped mask — the first `nGlobal` tokens
/// plus the nearest `nLocal` — with the distance cap: starting tokens outside the window are scored
/// with the query rotated at position `nLocal` against their unrotated keys, so they all sit at
/// distance `nLocal`, never farther. The cache evicts everything else (the "dec-23" code path), so
/// its size is constant however long the sequence.
///
/// With `topK` > 0 (§1.4), the last query row of each forward call (the last prompt token, then every
/// decoded token) in layers from `topKFromLayer` on also attends, per head, to the `topK` middle
/// tokens whose unrotated keys score best against the query rotated at `topKInsertAt`. That needs
/// every key again, so memory grows with the sequence, as in the official code.
public struct LMInfinite: AttentionPolicy {
    public var nGlobal: Int
    public var nLocal: Int
    public var topK: Int
    public var topKInsertAt: Int
    public var topKFromLayer: Int

    public init(nGlobal: Int = 10, nLocal: Int, topK: Int = 0, topKInsertAt: Int? = nil, topKFromLayer: Int = 4) {
        self.nGlobal = nGlobal
        self.nLocal = nLocal
        self.topK = topK
        self.topKInsertAt = topKInsertAt ?? nLocal / 2
        self.topKFromLayer = topKFromLayer
    }

    public var name: String { "lm-infinite" }
    public var parameters: [String: String] {
        var p = ["n_global": String(nGlobal), "n_local": String(nLocal), "distance_cap": String(nLocal), "top_k": String(topK)]
        if topK > 0 { p["top_k_insert_at"] = String(topKInsertAt); p["top_k_from_layer"] = String(topKFromLayer) }
        return p
    }

    public func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer {
        let middle = keepsMiddleTokens(spec) ? MiddleTopK(spec: spec, k: topK, insertAt: topKInsertAt, farQueryPosition: nLocal) : nil
        return SinkWindowAttention(spec: spec, ropeTables: ropeTables, sinks: nGlobal, window: nLocal, farQueryPosition: nLocal,
                                   rotateSinkKeys: false, middle: middle)
    }

    public func stateBytes(_ spec: AttentionLayerSpec, afterPositions positions: Int) -> Int {
        SinkWindowAttention.stateBytes(spec, sinks: nGlobal, window: nLocal, keepsMiddleKeys: keepsMiddleTokens(spec), afterPositions: positions)
    }

    /// Whether this layer attends to top-k middle tokens (and so keeps every key).
    private func keepsMiddleTokens(_ spec: AttentionLayerSpec) -> Bool { topK > 0 && spec.layerIndex >= topKFromLayer }
}

/// StreamingLLM (Xiao et al.; long-context-methods §5): `nSink` attention sinks plus the last
/// `nLocal` tokens, with positions inside the cache: the sinks sit at positions 0…nSink−1 and the
/// query at nSink + nLocal − 1, so a sink's distance is fixed by its index, not by how far back it is.
public struct StreamingLLM: AttentionPolicy {
    public var nSink: Int
    public var nLocal: Int

    public init(nSink: Int = 4, nLocal: Int) {
        self.nSink = nSink
        self.nLocal = nLocal
    }

    public var name: String { "streaming-llm" }
    public var parameters: [String: String] { ["n_sink": String(nSink), "n_local": String(nLocal)] }

    public func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer {
        SinkWindowAttention(spec: spec, ropeTables: ropeTables, sinks: nSink, window: nLocal,
                            farQueryPosition: nSink + nLocal - 1, rotateSinkKeys: true)
    }

    public func stateBytes(_ spec: AttentionLayerSpec, afterPositions positions: Int) -> Int {
        SinkWindowAttention.stateBytes(spec, sinks: nSink, window: nLocal, keepsMiddleKeys: false, afterPositions: positions)
    }
}

/// A window of the last `window` positions (keys rotated at their true positions) plus the first
/// `sinks` positions kept for good and attended as far keys once they leave the window, with the
/// query rotated at `farQueryPosition`. Sink keys are stored unrotated (LM-Infinite: every sink at
/// the capped distance) or rotated at their own positions (StreamingLLM: positions in the cache).
/// Memory: the window ring plus the sinks, whatever the sequence length.
final class SinkWindowAttention: AttentionLayer {
    let spec: AttentionLayerSpec
    let sinks: Int
    let window: Int
    let farQueryPosition: Int
    let rotateSinkKeys: Bool
    private let ropeTables: RotaryTableCache
    private let local: KeyValueStore
    private let sinkStore: KeyValueStore
    private let farQueries: FarQueries

    private let middle: MiddleTopK?

    init(spec: AttentionLayerSpec, ropeTables: RotaryTableCache, sinks: Int, window: Int, farQueryPosition: Int, rotateSinkKeys: Bool,
         middle: MiddleTopK? = nil) {
        self.middle = middle
        self.spec = spec
        self.ropeTables = ropeTables
        self.sinks = sinks
        self.window = window
        self.farQueryPosition = farQueryPosition
        self.rotateSinkKeys = rotateSinkKeys
        local = KeyValueStore(window: window, of: spec)
        sinkStore = KeyValueStore(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: KeyValueStore.fixedCapacity(positions: sinks),
                                  isRing: false)
        farQueries = FarQueries(spec: spec, position: farQueryPosition)
    }

    /// Bytes of the window ring, the sinks and (`keepsMiddleKeys`: LM-Infinite's top-k middle
    /// tokens) every raw key and value, after `positions` positions, without making the layer.
    static func stateBytes(_ spec: AttentionLayerSpec, sinks: Int, window: Int, keepsMiddleKeys: Bool, afterPositions positions: Int) -> Int {
        let ring = KeyValueStore.windowCapacity(window: window, of: spec, positions: positions)
        let kept = KeyValueStore.fixedCapacity(positions: sinks) + (keepsMiddleKeys ? KeyValueStore.growableCapacity(reserving: spec.reservedPositions, positions: positions) : 0)
        return KeyValueStore.bytes(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: ring + kept)
    }

    func attend(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                positions: UnsafeBufferPointer<Int>, output: UnsafeMutablePointer<Float>, endsInput: Bool, context: ComputeContext) {
        let t = positions.count, hd = spec.headDim, qn = spec.queryHeads * hd
        precondition(positions.first == local.nextPosition, "positions must continue the cached sequence")
        let newSinks = max(0, min(t, sinks - positions[0]))
        if newSinks > 0 && !rotateSinkKeys { sinkStore.append(keys: keys, values: values, count: newSinks) }
        middle?.store.append(keys: keys, values: values, count: t)

        let farQueryRows = farQueries.make(from: queries, tokens: t)
        spec.rotateAtTruePositions(queries: queries, keys: keys, positions: positions, ropeTables: ropeTables)
        if newSinks > 0 && rotateSinkKeys { sinkStore.append(keys: keys, values: values, count: newSinks) }
        local.append(keys: keys, values: values, count: t)

        let group = spec.queryHeads / spec.kvHeads
        for g in 0..<spec.kvHeads {
            let q = AttentionQueries(queries: queries + g * group * hd, output: output + g * group * hd, tokens: t,
                                     headsPerToken: group, tokenStride: qn, positions: positions.baseAddress!)
            let sinkKeys = sinkStore.nextPosition > 0
                ? FarKeys(queries: farQueryRows + g * group * hd, spans: sinkStore.spans(head: g), minimumDistance: window) : nil
            context.attend(q, headDim: hd, spans: local.spans(head: g), window: window, far: sinkKeys)
        }
        // The last row again, per head, with its top-k middle tokens in the same softmax.
        if let middle, endsInput {
            let last = t - 1, position = positions[last]
            let middleEnd = position - window + 1   // middle tokens: sinks ≤ j < middleEnd
            guard middleEnd - sinks >= middle.k else { return }
            for h in 0..<spec.queryHeads {
                let g = h / group
                let selected = middle.select(farQuery: farQueryRows + last * qn + h * hd, kvHead: g, range: sinks..<middleEnd)
                var p = position
                withUnsafePointer(to: &p) { pp in
                    let q = AttentionQueries(queries: queries + last * qn + h * hd, output: output + last * qn + h * hd, tokens: 1,
                                             headsPerToken: 1, tokenStride: qn, positions: pp)
                    context.attend(q, headDim: hd, spans: local.spans(head: g), window: window,
                                   far: FarKeys(queries: farQueryRows + last * qn + h * hd,
                                                spans: sinkStore.spans(head: g) + selected.spans(head: 0), minimumDistance: window))
                }
            }
        }
    }

    var stateBytes: Int { local.bytes + sinkStore.bytes + (middle?.store.bytes ?? 0) }

    func stateBytes(afterPositions positions: Int) -> Int {
        SinkWindowAttention.stateBytes(spec, sinks: sinks, window: window, keepsMiddleKeys: middle != nil, afterPositions: positions)
    }
}

/// LM-Infinite's optional top-k middle tokens (§1.4): every raw key and value, and the per-head
/// selection for one query. A selected key is scored as if at `insertAt`: against the far query
/// (rotated at `farQueryPosition`) it is stored rotated at farQueryPosition − insertAt, which gives
/// the same dot product as the query rotated at `insertAt` against the raw key.
final class MiddleTopK {
    let spec: AttentionLayerSpec
    let k: Int
    let store: KeyValueStore
    private let toInsertPosition: FarQueries
    private let keyShift: FarQueries
    private let chosen: KeyValueStore

    init(spec: AttentionLayerSpec, k: Int, insertAt: Int, farQueryPosition: Int) {
        self.spec = spec
        self.k = k
        store = KeyValueStore(everyPositionOf: spec)
        toInsertPosition = FarQueries(spec: spec, position: insertAt - farQueryPosition)
        keyShift = FarQueries(spec: spec, position: farQueryPosition - insertAt)
        chosen = KeyValueStore(kvHeads: 1, headDim: spec.headDim, capacity: KeyValueStore.fixedCapacity(positions: k), isRing: false)
    }

    /// The `k` middle tokens in `range` whose raw keys best match the query, as a one-head store of
    /// shifted keys and their values.
    func select(farQuery: UnsafePointer<Float>, kvHead: Int, range: Range<Int>) -> KeyValueStore {
        let hd = spec.headDim
        var query = Array(UnsafeBufferPointer(start: farQuery, count: hd))
        query.withUnsafeMutableBufferPointer { toInsertPosition.rotate($0.baseAddress!, count: 1) }
        var key = [Float](repeating: 0, count: hd)
        var top: [(score: Float, position: Int)] = []
        for j in range {
            store.copyKey(head: kvHead, position: j, into: &key)
            var s: Float = 0
            for d in 0..<hd { s += query[d] * key[d] }
            if top.count < k || s > top[top.count - 1].score {
                top.insert((s, j), at: top.firstIndex { $0.score < s } ?? top.count)
                if top.count > k { top.removeLast() }
            }
        }
        chosen.removeAll()
        var value = [Float](repeating: 0, count: hd)
        for entry in top.sorted(by: { $0.position < $1.position }) {
            store.copyKey(head: kvHead, position: entry.position, into: &key)
            key.withUnsafeMutableBufferPointer { keyShift.rotate($0.baseAddress!, count: 1) }
            store.copyValue(head: kvHead, position: entry.position, into: &value)
            chosen.append(keys: key, values: value, count: 1)
        }
        return chosen
    }
}
