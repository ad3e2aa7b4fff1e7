import Foundation
import Kernels

/// InfLLM (Xiao et al.; long-context-methods §3): a local window with true positions, plus far keys
/// that all sit at the window's edge (the query rotated at position nLocal − 1, keys unrotated): the
/// first `nInit` tokens, the `topK` memory blocks most relevant to the current chunk of queries, and
/// the remainder (evicted tokens not yet in a whole block). Evicted tokens are sealed into blocks of
/// `blockSize`; each block is looked up through one representative vector per query head, the mean of
/// the raw keys of its `representatives` highest-scoring tokens. Every token's keys and values stay
/// in memory (as the official code does), so memory grows with the sequence; compute per token does not.
public struct InfLLM: AttentionPolicy {
    public var nInit = 128
    public var nLocal = 4096
    public var blockSize = 128
    public var representatives = 4
    public var topK = 16
    /// Queries per block lookup during prefill (the official exc_block_size); decoding looks up per token.
    public var lookupChunk = 512

    public init() {}

    public var name: String { "infllm" }
    public var parameters: [String: String] {
        ["n_init": String(nInit), "n_local": String(nLocal), "block_size": String(blockSize), "repr_topk": String(representatives),
         "topk": String(topK), "exc_block_size": String(lookupChunk), "block_lookup": "sum over heads",
         "representative_score": "window-summed query·key", "memory_dtype": "f16"]
    }

    public func makeLayer(_ spec: AttentionLayerSpec, ropeTables: RotaryTableCache) -> AttentionLayer {
        InfLLMAttention(spec: spec, ropeTables: ropeTables, policy: self)
    }

    public func stateBytes(_ spec: AttentionLayerSpec, afterPositions positions: Int) -> Int {
        InfLLMAttention.stateBytes(spec, policy: self, afterPositions: positions)
    }
}

/// One global layer under InfLLM. Token life cycle (§3.5): after each lookup chunk ending at e, the
/// tokens before e − nLocal have left every future window; those past the initial tokens are sealed
/// into blocks as soon as a whole block is available.
///
/// Representative scores follow the paper's definition (§3.2): token m's score for query head h is
/// the dot product of its raw key with the sum of the queries of its local window, q_m … q_(m+nLocal−1)
/// (rotated at the far position, as lookups are); the official code's softmax-mass score ranks by the
/// same query–key affinity. With R_i the running sum of the rotated queries before token i, the score
/// is R_(m+nLocal)·k_m − R_m·k_m: the second term is taken when token m arrives, the first when its
/// window is complete, so the layer keeps one running sum and a few numbers per unsealed token (not a
/// window of query sums per head: that cost 22 MB a layer on SmolLM2), and O(d) work per token.
public final class InfLLMAttention: AttentionLayer {
    let spec: AttentionLayerSpec
    let policy: InfLLM
    private let ropeTables: RotaryTableCache
    private let local: KeyValueStore
    private let memory: KeyValueStore
    private let farQueries: FarQueries
    /// R: the sum of the rotated queries of every token so far, per query head.
    private var rotatedQuerySum: [Double]
    /// The representative scores in the making, a ring over the unsealed tokens: row (m mod rows)
    /// holds token m's score per query head.
    private let pendingScores: UnsafeMutablePointer<Double>
    private let pendingRows: Int
    /// Representative vectors, [block][queryHeads · headDim] (tests read them).
    public private(set) var representatives: [Float] = []
    private var firstUnblocked: Int
    private var sealedBlocks: Int { representatives.count / (spec.queryHeads * spec.headDim) }
    /// Blocks chosen by the latest lookup (tests read it).
    public private(set) var lastSelection: [Int] = []

    init(spec: AttentionLayerSpec, ropeTables: RotaryTableCache, policy: InfLLM) {
        self.spec = spec
        self.policy = policy
        self.ropeTables = ropeTables
        local = KeyValueStore(window: policy.nLocal, of: spec)
        memory = KeyValueStore(everyPositionOf: spec)
        farQueries = FarQueries(spec: spec, position: policy.nLocal - 1)
        rotatedQuerySum = [Double](repeating: 0, count: spec.queryHeads * spec.headDim)
        pendingRows = InfLLMAttention.pendingRows(spec, policy: policy)
        pendingScores = .allocate(capacity: pendingRows * spec.queryHeads)
        pendingScores.initialize(repeating: 0, count: pendingRows * spec.queryHeads)
        firstUnblocked = policy.nInit
    }

    deinit { pendingScores.deallocate() }

    /// Rows of the pending-score ring: it holds the oldest unsealed token on, which trails the newest
    /// by at most the window, a block and a chunk.
    private static func pendingRows(_ spec: AttentionLayerSpec, policy: InfLLM) -> Int {
        policy.nLocal + policy.blockSize + spec.maxChunkTokens + 1
    }

    /// Blocks sealed once `positions` positions have been attended: whole blocks of the tokens past
    /// the initial ones that have left the window (`sealBlocks` runs after every lookup chunk, the
    /// last of which ends at `positions`).
    private static func sealedBlockCount(policy: InfLLM, afterPositions positions: Int) -> Int {
        max(0, positions - policy.nLocal - policy.nInit) / policy.blockSize
    }

    /// Bytes of the window ring, every token's raw keys and values, the representatives, the running
    /// query sum and the pending scores after `positions` positions, without making the layer.
    static func stateBytes(_ spec: AttentionLayerSpec, policy: InfLLM, afterPositions positions: Int) -> Int {
        let queryWidth = spec.queryHeads * spec.headDim
        let keysAndValues = KeyValueStore.bytes(kvHeads: spec.kvHeads, headDim: spec.headDim,
                                                capacity: KeyValueStore.windowCapacity(window: policy.nLocal, of: spec, positions: positions)
                                                    + KeyValueStore.growableCapacity(reserving: spec.reservedPositions, positions: positions))
        return keysAndValues + sealedBlockCount(policy: policy, afterPositions: positions) * queryWidth * MemoryLayout<Float>.size
            + (queryWidth + pendingRows(spec, policy: policy) * spec.queryHeads) * MemoryLayout<Double>.size
    }

    public func attend(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                positions: UnsafeBufferPointer<Int>, output: UnsafeMutablePointer<Float>, endsInput: Bool, context: ComputeContext) {
        let t = positions.count, hd = spec.headDim, qn = spec.queryHeads * hd
        let start = positions[0]
        precondition(start == memory.nextPosition, "positions must continue the cached sequence")
        memory.append(keys: keys, values: values, count: t)   // raw keys: far keys are unrotated
        let farQueryRows = farQueries.make(from: queries, tokens: t)
        scoreTokens(farQueryRows, from: start, count: t)
        spec.rotateAtTruePositions(queries: queries, keys: keys, positions: positions, ropeTables: ropeTables)
        local.append(keys: keys, values: values, count: t)

        let group = spec.queryHeads / spec.kvHeads
        var offset = 0
        while offset < t {
            let n = min(policy.lookupChunk, t - offset)
            let end = start + offset + n
            let selected = lookUp(farQueryRows + offset * qn, tokens: n)
            lastSelection = selected
            for g in 0..<spec.kvHeads {
                var farSpans: [KeyValueSpan] = []
                let initEnd = min(policy.nInit, end)
                if initEnd > 0 { farSpans.append(memory.span(head: g, from: 0, to: initEnd)) }
                for b in selected {
                    let s = policy.nInit + b * policy.blockSize
                    farSpans.append(memory.span(head: g, from: s, to: s + policy.blockSize))
                }
                // The remainder: evicted tokens not yet in a block. Each query sees only those at a true
                // distance of at least nLocal (the visibility rule of FarKeys), the correct rule of §3.4.
                let remainderEnd = max(firstUnblocked, end - policy.nLocal)
                if remainderEnd > firstUnblocked { farSpans.append(memory.span(head: g, from: firstUnblocked, to: remainderEnd)) }
                let q = AttentionQueries(queries: queries + offset * qn + g * group * hd, output: output + offset * qn + g * group * hd,
                                         tokens: n, headsPerToken: group, tokenStride: qn, positions: positions.baseAddress! + offset)
                context.attend(q, headDim: hd, spans: local.spans(head: g), window: policy.nLocal,
                               far: FarKeys(queries: farQueryRows + offset * qn + g * group * hd, spans: farSpans, minimumDistance: policy.nLocal))
            }
            sealBlocks(evictedEnd: end - policy.nLocal)
            offset += n
        }
    }

    /// Brings the rotated queries of positions start..<start+count into the scores: token i's score
    /// starts at −R_i·k_i, R takes q_i, and the token whose window R now completes,
    /// m = i + 1 − nLocal, gets + R_(m+nLocal)·k_m.
    private func scoreTokens(_ rotatedQueries: UnsafePointer<Float>, from start: Int, count: Int) {
        let hd = spec.headDim, qn = spec.queryHeads * hd, group = spec.queryHeads / spec.kvHeads
        var key = [Float](repeating: 0, count: hd)
        func addScores(of m: Int, sign: Double) {
            let row = pendingScores + (m % pendingRows) * spec.queryHeads
            for g in 0..<spec.kvHeads {
                memory.copyKey(head: g, position: m, into: &key)
                for h in (g * group)..<((g + 1) * group) {
                    var s: Double = 0
                    for d in 0..<hd { s += rotatedQuerySum[h * hd + d] * Double(key[d]) }
                    row[h] += sign * s
                }
            }
        }
        for i in start..<(start + count) {
            if i >= policy.nInit {
                (pendingScores + (i % pendingRows) * spec.queryHeads).update(repeating: 0, count: spec.queryHeads)
                addScores(of: i, sign: -1)
            }
            let q = rotatedQueries + (i - start) * qn
            for d in 0..<qn { rotatedQuerySum[d] += Double(q[d]) }
            let m = i + 1 - policy.nLocal
            if m >= policy.nInit { addScores(of: m, sign: 1) }
        }
    }

    /// The `topK` sealed blocks whose representatives best match the mean far query of these
    /// tokens, summed over heads (all blocks when there are no more than `topK`), in block order.
    func lookUp(_ farQueries: UnsafePointer<Float>, tokens: Int) -> [Int] {
        let blocks = sealedBlocks
        guard blocks > policy.topK else { return Array(0..<blocks) }
        let qn = spec.queryHeads * spec.headDim
        var mean = [Float](repeating: 0, count: qn)   // the sum of the queries: the same ranking as their mean
        for i in 0..<tokens { for d in 0..<qn { mean[d] += farQueries[i * qn + d] } }
        let scores: [Float] = representatives.withUnsafeBufferPointer { r in
            (0..<blocks).map { b in
                var s: Float = 0
                let row = r.baseAddress! + b * qn
                for d in 0..<qn { s += mean[d] * row[d] }
                return s
            }
        }
        let best = (0..<blocks).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return best.prefix(policy.topK).sorted()
    }

    /// Seals every whole block of evicted tokens before `evictedEnd` (§3.5).
    private func sealBlocks(evictedEnd: Int) {
        let hd = spec.headDim, qn = spec.queryHeads * hd, group = spec.queryHeads / spec.kvHeads, size = policy.blockSize
        guard evictedEnd - firstUnblocked >= size else { return }
        var key = [Float](repeating: 0, count: hd)
        var representative = [Float](repeating: 0, count: qn)
        while evictedEnd - firstUnblocked >= size {
            for h in 0..<spec.queryHeads {
                let g = h / group
                var scored: [(score: Double, position: Int)] = []
                for m in firstUnblocked..<(firstUnblocked + size) {
                    scored.append((pendingScores[(m % pendingRows) * spec.queryHeads + h], m))
                }
                let top = scored.sorted { $0.score > $1.score || ($0.score == $1.score && $0.position < $1.position) }
                    .prefix(policy.representatives)
                for d in 0..<hd { representative[h * hd + d] = 0 }
                for entry in top {
                    memory.copyKey(head: g, position: entry.position, into: &key)
                    for d in 0..<hd { representative[h * hd + d] += key[d] / Float(top.count) }
                }
            }
            representatives += representative
            firstUnblocked += size
        }
    }

    public var stateBytes: Int {
        local.bytes + memory.bytes + representatives.count * MemoryLayout<Float>.size
            + (rotatedQuerySum.count + pendingRows * spec.queryHeads) * MemoryLayout<Double>.size
    }

    public func stateBytes(afterPositions positions: Int) -> Int {
        InfLLMAttention.stateBytes(spec, policy: policy, afterPositions: positions)
    }
}
