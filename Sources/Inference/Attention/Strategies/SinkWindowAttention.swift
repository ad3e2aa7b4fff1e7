import Kernels

/// LM-Infinite (Han et al.; long-context-methods §1): a Λ-shaped mask — the first `nGlobal` tokens
/// plus the nearest `nLocal` — with the distance cap: starting tokens outside the window are scored
/// with the query rotated at position `nLocal` against their unrotated keys, so they all sit at
/// distance `nLocal`, never farther. The cache evicts everything else (the "dec-23" code path), so
/// its size is constant however long the sequence.
public struct LMInfinite: AttentionPolicy {
    public var nGlobal: Int
    public var nLocal: Int

    public init(nGlobal: Int = 10, nLocal: Int) {
        self.nGlobal = nGlobal
        self.nLocal = nLocal
    }

    public var name: String { "lm-infinite" }
    public var parameters: [String: String] {
        ["n_global": String(nGlobal), "n_local": String(nLocal), "distance_cap": String(nLocal), "top_k": "0"]
    }

    public func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer {
        SinkWindowAttention(spec: spec, ropeTables: ropeTables, sinks: nGlobal, window: nLocal, farQueryPosition: nLocal, rotateSinkKeys: false)
    }
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

    init(spec: AttentionLayerSpec, ropeTables: RotaryTableCache, sinks: Int, window: Int, farQueryPosition: Int, rotateSinkKeys: Bool) {
        self.spec = spec
        self.ropeTables = ropeTables
        self.sinks = sinks
        self.window = window
        self.farQueryPosition = farQueryPosition
        self.rotateSinkKeys = rotateSinkKeys
        local = KeyValueStore(kvHeads: spec.kvHeads, headDim: spec.headDim,
                              capacity: (window + spec.maxChunkTokens + 15) / 16 * 16, isRing: true)
        sinkStore = KeyValueStore(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: max(16, (sinks + 15) / 16 * 16), isRing: false)
        farQueries = FarQueries(spec: spec, position: farQueryPosition)
    }

    func attend(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                positions: UnsafeBufferPointer<Int>, output: UnsafeMutablePointer<Float>, context: ComputeContext) {
        let t = positions.count, hd = spec.headDim, qn = spec.queryHeads * hd
        precondition(positions.first == local.nextPosition, "positions must continue the cached sequence")
        let newSinks = max(0, min(t, sinks - positions[0]))
        if newSinks > 0 && !rotateSinkKeys { sinkStore.append(keys: keys, values: values, count: newSinks) }

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
    }

    var stateBytes: Int { local.bytes + sinkStore.bytes }

    func stateBytes(afterPositions positions: Int) -> Int { stateBytes }
}
