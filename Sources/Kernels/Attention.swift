import Foundation
import KernelsAVX512

/// The keys and values of one KV head over a contiguous run of cache slots, as attention reads them.
///
/// Keys are stored in panels of 16 positions laid out [headDim][16] (panel p holds positions
/// `firstPosition + 16p ..< firstPosition + 16p + 16`), which is exactly the B operand of the GEMM
/// micro-kernel, so QKᵀ needs no packing. Value rows are `valueStride` elements apart. Both are half
/// precision, as llama.cpp's default KV cache. Storage must cover whole panels (rows up to the next
/// multiple of 16) and hold finite numbers everywhere.
public struct KeyValueSpan {
    public var keyPanels: UnsafePointer<Float16>
    public var values: UnsafePointer<Float16>
    public var valueStride: Int
    public var firstPosition: Int
    public var count: Int

    public init(keyPanels: UnsafePointer<Float16>, values: UnsafePointer<Float16>, valueStride: Int, firstPosition: Int, count: Int) {
        self.keyPanels = keyPanels
        self.values = values
        self.valueStride = valueStride
        self.firstPosition = firstPosition
        self.count = count
    }
}

/// The query side of one attention call for one KV head: `tokens` positions, each with
/// `headsPerToken` query vectors (the query heads sharing this KV head). Query vector i of token t
/// is at `queries + t·tokenStride + i·headDim`; the output uses the same layout.
public struct AttentionQueries {
    public var queries: UnsafePointer<Float>
    public var output: UnsafeMutablePointer<Float>
    public var tokens: Int
    public var headsPerToken: Int
    public var tokenStride: Int
    public var positions: UnsafePointer<Int>

    public init(queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tokens: Int, headsPerToken: Int,
                tokenStride: Int, positions: UnsafePointer<Int>) {
        self.queries = queries
        self.output = output
        self.tokens = tokens
        self.headsPerToken = headsPerToken
        self.tokenStride = tokenStride
        self.positions = positions
    }
}

/// The second stage of the attention primitive: keys scored with queries rotated at one fixed
/// position (so every such key sits at the same distance, whatever its index), joined with the
/// near keys in one softmax. A far key at position j is visible to a query at position p only when
/// p − j ≥ `minimumDistance`, i.e. once it has left the query's near window, so no key counts twice.
/// LM-Infinite's starting tokens, InfLLM's memory blocks, initial tokens and remainder, and
/// StreamingLLM's sinks are all far keys.
public struct FarKeys {
    /// The queries rotated at the fixed position, in the same layout as `AttentionQueries.queries`.
    public var queries: UnsafePointer<Float>
    public var spans: [KeyValueSpan]
    public var minimumDistance: Int

    public init(queries: UnsafePointer<Float>, spans: [KeyValueSpan], minimumDistance: Int) {
        self.queries = queries
        self.spans = spans
        self.minimumDistance = minimumDistance
    }
}

extension ComputeContext {
    static let attentionBlockRows = 48
    static let attentionChunkKeys = 128

    /// Softmax attention of every query over the keys of `spans` that it may see: a key at position j
    /// is visible to a query at position p when j ≤ p and p − j < `window` (pass `Int.max` for plain
    /// causal attention); plus, in the same softmax, the `far` keys (see `FarKeys`). Scores use the
    /// queries as given (any 1/√d scale is already applied). The half-precision cache is widened on
    /// load; everything else runs in f32.
    ///
    /// One online softmax runs over all spans, in key chunks: S = Q·Kᵀ with the attention
    /// micro-kernel (`AttentionTile`), then the running max/sum update, then O += P·V with the same kernel. Work is split over blocks
    /// of query rows and, when there are fewer blocks than threads (decoding), over the keys as well,
    /// with the partial softmax states merged at the end.
    public func attend(_ q: AttentionQueries, headDim: Int, spans nearSpans: [KeyValueSpan], window: Int, far: FarKeys? = nil) {
        let spans = nearSpans + (far?.spans ?? [])
        let nearCount = nearSpans.count
        let farDistance = far?.minimumDistance ?? 0
        let rows = q.tokens * q.headsPerToken
        guard rows > 0 else { return }
        precondition(headDim % GEMM.tileCols == 0, "attention needs a head size that is a multiple of 16")
        let blockRows = ComputeContext.attentionBlockRows
        let blocks = (rows + blockRows - 1) / blockRows
        let path = self.path, tileRows = path.attentionTileRows

        // Visible panels of each span for each query block; the key splits cut this list.
        var panelRanges: [[Range<Int>]] = []
        var maxPanels = 0
        for b in 0..<blocks {
            let firstToken = b * blockRows / q.headsPerToken
            let lastToken = (min(rows, (b + 1) * blockRows) - 1) / q.headsPerToken
            var lowest = Int.max, highest = Int.min
            for t in firstToken...lastToken {
                lowest = min(lowest, q.positions[t])
                highest = max(highest, q.positions[t])
            }
            let from = window == Int.max ? Int.min : lowest - window + 1, to = highest + 1
            var ranges: [Range<Int>] = []
            var total = 0
            for (s, span) in spans.enumerated() {
                let isFar = s >= nearCount
                let a = max(isFar ? Int.min : from, span.firstPosition)
                let e = min(isFar ? highest - farDistance + 1 : to, span.firstPosition + span.count)
                if a >= e { ranges.append(0..<0); continue }
                let r = ((a - span.firstPosition) / 16)..<((e - span.firstPosition + 15) / 16)
                ranges.append(r)
                total += r.count
            }
            panelRanges.append(ranges)
            maxPanels = max(maxPanels, total)
        }
        let minimumPanelsPerSplit = 8
        let splits = blocks >= parallelism.threads ? 1
            : max(1, min((parallelism.threads + blocks - 1) / blocks, maxPanels / minimumPanelsPerSplit))
        let partialStride = blockRows * (headDim + 2)
        let partials: UnsafeMutablePointer<Float>? = splits > 1
            ? arena.buffer(worker: 0, slot: 7, count: blocks * splits * partialStride) : nil

        parallelism.forEach(blocks * splits) { item, worker in
            let block = item / splits, split = item % splits
            let firstRow = block * blockRows
            let activeRows = min(blockRows, rows - firstRow)
            let tiles = (activeRows + tileRows - 1) / tileRows
            let chunkKeys = ComputeContext.attentionChunkKeys
            let qs = arena.buffer(worker: worker, slot: 3, count: blockRows * headDim)
            let farQs: UnsafeMutablePointer<Float>? = far == nil ? nil : arena.buffer(worker: worker, slot: 0, count: blockRows * headDim)
            let scores = arena.buffer(worker: worker, slot: 4, count: blockRows * chunkKeys)
            let out: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, l: UnsafeMutablePointer<Float>
            if let partials {
                let base = partials + item * partialStride
                out = base; m = base + blockRows * headDim; l = m + blockRows
            } else {
                out = arena.buffer(worker: worker, slot: 5, count: blockRows * headDim)
                m = arena.buffer(worker: worker, slot: 6, count: 2 * blockRows)
                l = m + blockRows
            }
            // Gather this block's query rows into a dense, zero-padded tile stack (and the far queries).
            func gather(_ source: UnsafePointer<Float>, into tile: UnsafeMutablePointer<Float>) {
                for r in 0..<(tiles * tileRows) {
                    let dst = tile + r * headDim
                    if r < activeRows {
                        let row = firstRow + r
                        dst.update(from: source + (row / q.headsPerToken) * q.tokenStride + (row % q.headsPerToken) * headDim, count: headDim)
                    } else {
                        dst.update(repeating: 0, count: headDim)
                    }
                }
            }
            gather(q.queries, into: qs)
            if let far, let farQs { gather(far.queries, into: farQs) }
            out.update(repeating: 0, count: tiles * tileRows * headDim)
            m.update(repeating: -.infinity, count: blockRows)
            l.update(repeating: 0, count: blockRows)

            // This split's share of the block's visible panels, walked span by span in chunks.
            let ranges = panelRanges[block]
            let total = ranges.reduce(0) { $0 + $1.count }
            var skip = total * split / splits
            var take = total * (split + 1) / splits - skip
            for (s, span) in spans.enumerated() where take > 0 {
                var range = ranges[s]
                if skip >= range.count { skip -= range.count; continue }
                range = (range.lowerBound + skip)..<range.upperBound
                skip = 0
                var panel = range.lowerBound
                let end = min(range.upperBound, panel + take)
                take -= end - panel
                let isFar = s >= nearCount
                while panel < end {
                    let count = min(chunkKeys / 16, end - panel)
                    attendChunk(path, q, headDim: headDim, span: span, firstPanel: panel, panels: count,
                                visibility: isFar ? .far(minimumDistance: farDistance) : .near(window: window),
                                firstRow: firstRow, activeRows: activeRows, tiles: tiles,
                                qs: isFar ? farQs! : qs, scores: scores, out: out, m: m, l: l, worker: worker)
                    panel += count
                }
            }
            if partials == nil {
                for r in 0..<activeRows {
                    let row = firstRow + r
                    let dst = q.output + (row / q.headsPerToken) * q.tokenStride + (row % q.headsPerToken) * headDim
                    let inverse = 1 / l[r]
                    for d in 0..<headDim { dst[d] = out[r * headDim + d] * inverse }
                }
            }
        }

        if let partials {
            // Merge the splits of each block: weights e^(m_s − M) rescale each partial sum and output.
            for block in 0..<blocks {
                let firstRow = block * blockRows
                for r in 0..<min(blockRows, rows - firstRow) {
                    var best = -Float.infinity
                    for s in 0..<splits { best = max(best, partials[(block * splits + s) * partialStride + blockRows * headDim + r]) }
                    let row = firstRow + r
                    let dst = q.output + (row / q.headsPerToken) * q.tokenStride + (row % q.headsPerToken) * headDim
                    dst.update(repeating: 0, count: headDim)
                    var denominator: Float = 0
                    for s in 0..<splits {
                        let base = partials + (block * splits + s) * partialStride
                        let ms = base[blockRows * headDim + r], ls = base[blockRows * headDim + blockRows + r]
                        if ls == 0 { continue }
                        let weight = Foundation.exp(ms - best)
                        denominator += weight * ls
                        for d in 0..<headDim { dst[d] += weight * base[r * headDim + d] }
                    }
                    Elementwise.scale(dst, by: 1 / denominator, count: headDim)
                }
            }
        }
    }

    /// Which keys of a span a query at position p sees.
    enum Visibility {
        /// p − window < j ≤ p.
        case near(window: Int)
        /// j ≤ p − minimumDistance.
        case far(minimumDistance: Int)
    }

    /// One chunk of at most `attentionChunkKeys` keys for one block of query rows: scores, the online
    /// softmax update, and the weighted sum of values.
    @inline(__always)
    private func attendChunk(_ path: KernelPath, _ q: AttentionQueries, headDim: Int, span: KeyValueSpan, firstPanel: Int, panels: Int, visibility: Visibility,
                             firstRow: Int, activeRows: Int, tiles: Int,
                             qs: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
                             m: UnsafeMutablePointer<Float>, l: UnsafeMutablePointer<Float>, worker: Int) {
        let ld = ComputeContext.attentionChunkKeys
        let keys = panels * 16
        let chunkFirst = span.firstPosition + firstPanel * 16
        let spanEnd = span.firstPosition + span.count
        let tr = path.attentionTileRows
        let panel = { (p: Int) in span.keyPanels + (firstPanel + p) * headDim * 16 }
        for t in 0..<tiles {
            let a = qs + t * tr * headDim, c = scores + t * tr * ld
            var p = 0
            while p + 2 <= panels {
                AttentionTile.wide(path, a, headDim, panel(p), panel(p + 1), 16, headDim, c + p * 16, ld, accumulate: false)
                p += 2
            }
            if p < panels { AttentionTile.narrow(path, a, headDim, panel(p), 16, headDim, c + p * 16, ld, accumulate: false) }
        }
        for r in 0..<(tiles * tr) {
            let row = scores + r * ld
            guard r < activeRows else { row.update(repeating: 0, count: keys); continue }
            let position = q.positions[(firstRow + r) / q.headsPerToken]
            let lowest: Int, highest: Int
            switch visibility {
            case let .near(window):
                lowest = window == Int.max ? chunkFirst : max(chunkFirst, position - window + 1)
                highest = position
            case let .far(minimumDistance):
                lowest = chunkFirst
                highest = position - minimumDistance
            }
            let a = lowest - chunkFirst, b = min(highest + 1, spanEnd, chunkFirst + keys) - chunkFirst
            guard a < b else { row.update(repeating: 0, count: keys); continue }
            let rowMax = Softmax.max(row, a, b)
            if rowMax > m[r] {
                if l[r] > 0 {
                    let correction = Foundation.exp(m[r] - rowMax)
                    l[r] *= correction
                    Elementwise.scale(out + r * headDim, by: correction, count: headDim)
                }
                m[r] = rowMax
            }
            l[r] += Softmax.exponentiate(row, count: keys, visible: a..<b, subtracting: m[r])
        }
        let values = span.values + (chunkFirst - span.firstPosition) * span.valueStride
        for t in 0..<tiles {
            let a = scores + t * tr * ld, c = out + t * tr * headDim
            var d = 0
            while d + 32 <= headDim {
                AttentionTile.wide(path, a, ld, values + d, values + d + 16, span.valueStride, keys, c + d, headDim, accumulate: true)
                d += 32
            }
            if d < headDim { AttentionTile.narrow(path, a, ld, values + d, span.valueStride, keys, c + d, headDim, accumulate: true) }
        }
    }
}

/// Row operations of the attention softmax.
enum Softmax {
    /// The largest of row[a..<b] (a < b).
    @inline(__always)
    static func max(_ row: UnsafePointer<Float>, _ a: Int, _ b: Int) -> Float {
        var i = a
        var best = row[i]
        while i < b && i % 8 != 0 { best = Swift.max(best, row[i]); i += 1 }
        if i + 8 <= b {
            var v = load8(row + i)
            i += 8
            while i + 8 <= b { v = lanewiseMax(v, load8(row + i)); i += 8 }
            best = Swift.max(best, horizontalMax(v))
        }
        while i < b { best = Swift.max(best, row[i]); i += 1 }
        return best
    }

    /// Replaces row[j] by e^(row[j] − m) for j in `visible` and by 0 elsewhere in 0..<count (a
    /// multiple of 8); returns the sum.
    @inline(__always)
    static func exponentiate(_ row: UnsafeMutablePointer<Float>, count: Int, visible: Range<Int>, subtracting m: Float) -> Float {
        let first = visible.lowerBound & ~7, last = Swift.min(count, (visible.upperBound + 7) & ~7)
        // Masked lanes of the edge vectors become −∞, where exp gives ~1e-38: nothing, in a sum of
        // terms of which the largest is 1.
        for i in first..<visible.lowerBound { row[i] = -.infinity }
        for i in visible.upperBound..<last { row[i] = -.infinity }
        let mv = SIMD8<Float>(repeating: m)
        var sum = SIMD8<Float>()
        var j = first
        while j < last {
            let e = Elementwise.exp(load8(row + j) - mv)
            store8(row + j, e)
            sum += e
            j += 8
        }
        row.update(repeating: 0, count: first)
        (row + last).update(repeating: 0, count: count - last)
        return horizontalSum(sum)
    }
}

/// The attention micro-kernels: C[3 × 32] (+)= A[3 × k] · B[k × 32] and its 16-column edge, where B is
/// the half-precision KV cache: row i of B is 16 elements at `left + i·ldb` followed by 16 at
/// `right + i·ldb` (two key panels side by side for QKᵀ; two 16-column strips of the value rows for PV).
///
/// Why not the GEMM's 6 × 16 kernel: with widening f16 loads for B, LLVM schedules all six broadcasts
/// of A before the second half of B, needs 19 vector registers and spills accumulators to the stack in
/// the inner loop (seen with perf at 8k tokens, where attention ran at a third of the GEMM's rate).
/// Three rows by 32 columns hold the same twelve accumulators with three broadcasts and one widened
/// load at a time, sixteen registers. The kernels stay out of line so that their register allocation
/// is their own; `KernelCodeTests` checks them for spills. This is the AVX2 path's tile; the AVX-512
/// path's is 4 × 32 (`AVX512Kernels.attentionWide`), and the entry points taking a path run its tile.
enum AttentionTile {
    static let rows = 3

    @inline(__always)
    static func wide(_ path: KernelPath, _ a: UnsafePointer<Float>, _ lda: Int, _ left: UnsafePointer<Float16>, _ right: UnsafePointer<Float16>,
                     _ ldb: Int, _ k: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        switch path {
        case .avx2: wide(a, lda, left, right, ldb, k, c, ldc, accumulate: accumulate)
        case .avx512: AVX512Kernels.attentionWide(a, lda, left, right, ldb, k, c, ldc, accumulate: accumulate)
        }
    }

    @inline(__always)
    static func narrow(_ path: KernelPath, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float16>, _ ldb: Int, _ k: Int,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        switch path {
        case .avx2: narrow(a, lda, b, ldb, k, c, ldc, accumulate: accumulate)
        case .avx512: AVX512Kernels.attentionNarrow(a, lda, b, ldb, k, c, ldc, accumulate: accumulate)
        }
    }

    @inline(never)
    static func wide(_ a: UnsafePointer<Float>, _ lda: Int, _ left: UnsafePointer<Float16>, _ right: UnsafePointer<Float16>,
                     _ ldb: Int, _ k: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>(), c03 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>(), c13 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>(), c23 = SIMD8<Float>()
        let c1 = c + ldc, c2 = c + 2 * ldc
        if accumulate {
            c00 = load8(c); c01 = load8(c + 8); c02 = load8(c + 16); c03 = load8(c + 24)
            c10 = load8(c1); c11 = load8(c1 + 8); c12 = load8(c1 + 16); c13 = load8(c1 + 24)
            c20 = load8(c2); c21 = load8(c2 + 8); c22 = load8(c2 + 16); c23 = load8(c2 + 24)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda
        var l = left, r = right
        for i in 0..<k {
            let x0 = SIMD8<Float>(repeating: a0[i]), x1 = SIMD8<Float>(repeating: a1[i]), x2 = SIMD8<Float>(repeating: a2[i])
            var b = Float16.load8(l); c00.addProduct(x0, b); c10.addProduct(x1, b); c20.addProduct(x2, b)
            b = Float16.load8(l + 8); c01.addProduct(x0, b); c11.addProduct(x1, b); c21.addProduct(x2, b)
            b = Float16.load8(r); c02.addProduct(x0, b); c12.addProduct(x1, b); c22.addProduct(x2, b)
            b = Float16.load8(r + 8); c03.addProduct(x0, b); c13.addProduct(x1, b); c23.addProduct(x2, b)
            l += ldb; r += ldb
        }
        store8(c, c00); store8(c + 8, c01); store8(c + 16, c02); store8(c + 24, c03)
        store8(c1, c10); store8(c1 + 8, c11); store8(c1 + 16, c12); store8(c1 + 24, c13)
        store8(c2, c20); store8(c2 + 8, c21); store8(c2 + 16, c22); store8(c2 + 24, c23)
    }

    /// C[3 × 16] (+)= A[3 × k] · B[k × 16]: an odd last key panel, or a head size that is an odd
    /// multiple of 16.
    @inline(never)
    static func narrow(_ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float16>, _ ldb: Int, _ k: Int,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        let c1 = c + ldc, c2 = c + 2 * ldc
        if accumulate {
            c00 = load8(c); c01 = load8(c + 8); c10 = load8(c1); c11 = load8(c1 + 8); c20 = load8(c2); c21 = load8(c2 + 8)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda
        var bp = b
        for i in 0..<k {
            let b0 = Float16.load8(bp), b1 = Float16.load8(bp + 8)
            var x = SIMD8<Float>(repeating: a0[i]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a1[i]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a2[i]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            bp += ldb
        }
        store8(c, c00); store8(c + 8, c01); store8(c1, c10); store8(c1 + 8, c11); store8(c2, c20); store8(c2 + 8, c21)
    }
}
