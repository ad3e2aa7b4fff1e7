import GGUF
import KernelsAVX512

/// The thread count plus per-worker scratch that every kernel call shares. A model owns one; calls
/// on one context must not overlap (the engine runs one forward pass at a time).
public final class ComputeContext: @unchecked Sendable {
    public let parallelism: Parallelism
    /// The instruction-set path of the kernels (`KernelPath.selected` unless given). Settable between
    /// calls, so that one loaded model can be run on each path this CPU supports (tests, `bench`).
    public var path: KernelPath
    let arena: ScratchArena

    /// Scratch slots per worker: 0 the GEMM's packed panel, or attention's queries rotated for far
    /// keys (the two never run at once); 1 dequantized row; 2 C tile; 3–6 attention (query tile,
    /// scores, output, softmax state); on worker 0 only, 7 holds per-call data shared by all workers
    /// (padded tail rows, the mat-vec input's 16-bit codes and scales, attention partials).
    static let scratchSlots = 8

    public init(parallelism: Parallelism = .allCores, path: KernelPath = .selected) {
        self.parallelism = parallelism
        self.path = path
        arena = ScratchArena(workers: parallelism.threads, slots: ComputeContext.scratchSlots)
    }
}

/// One product of a batched matmul call: `output` (rows × weights.rows) = input · weightsᵀ.
public struct MatMulJob {
    public var weights: WeightMatrix
    public var output: UnsafeMutablePointer<Float>
    public init(_ weights: WeightMatrix, _ output: UnsafeMutablePointer<Float>) {
        self.weights = weights
        self.output = output
    }
}

extension ComputeContext {
    /// For each job, `output = x · Wᵀ`, where x is `rows` × `cols` floats (row stride `cols`) and all
    /// jobs share x. Jobs are dispatched together, so q/k/v or gate/up cost one fork/join.
    /// One row (decoding) uses the fused quantized dot products; more rows use the packed GEMM.
    /// Activations stay in f32 (llama.cpp rounds them to 8 bits; see the README's note on numerics).
    public func matmul(_ x: UnsafePointer<Float>, rows: Int, _ jobs: [MatMulJob]) {
        guard rows > 0, let cols = jobs.first?.weights.cols else { return }
        precondition(jobs.allSatisfy { $0.weights.cols == cols }, "matmul jobs must share the input width")
        if rows == 1 { matvec(x, cols: cols, jobs) } else { gemm(x, rows: rows, cols: cols, jobs) }
    }

    public func matmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>) {
        matmul(x, rows: rows, [MatMulJob(w, y)])
    }

    /// Cuts every job's output rows into work items of `rowsPerItem(rows)` rows and runs `body` on
    /// each item, all jobs in one parallel loop.
    private func forEachRowRange(of jobs: [MatMulJob], rowsPerItem: (Int) -> Int,
                                 _ body: (_ job: MatMulJob, _ rows: Range<Int>, _ worker: Int) -> Void) {
        var firstItem: [Int] = [], perItem: [Int] = []
        var items = 0
        for job in jobs {
            firstItem.append(items)
            perItem.append(rowsPerItem(job.weights.rows))
            items += (job.weights.rows + perItem[perItem.count - 1] - 1) / perItem[perItem.count - 1]
        }
        parallelism.forEach(items) { item, worker in
            var j = jobs.count - 1
            while firstItem[j] > item { j -= 1 }
            let start = (item - firstItem[j]) * perItem[j]
            body(jobs[j], start..<min(jobs[j].weights.rows, start + perItem[j]), worker)
        }
    }

    // MARK: - One row: fused quantized dot products

    /// Rows per work item when decoding: about four contiguous runs per worker, at least 32 rows.
    /// Every item costs a trip through the pool's shared counter and the job lookup, and starts a
    /// new stream for the hardware prefetcher; with 32 items per worker, Gemma 3's mid-size
    /// matrices (256–2048 rows of 680 bytes, so 22 KB items) read at 17 GB/s against the output
    /// head's 33. Measured on the 2-vCPU Zen 4, 2 threads (`bench --matvec`, then `bench` decode
    /// tok/s at 1k / 4k): items per worker 32 → 17 GB/s, 84 / 79 tok/s; 8 → 92 / 84; 4 → 26–28
    /// GB/s, 96 / 90; 2 or 1 → 27–28 GB/s but 94–97 / 82 (the last item's imbalance shows).
    func matvecRowsPerItem(_ rows: Int) -> Int {
        max(32, rows / (parallelism.threads * 4))
    }

    private func matvec(_ x: UnsafePointer<Float>, cols: Int, _ jobs: [MatMulJob]) {
        // Sums of x over 32- and 16-element groups, for the formats with per-group offsets, and x
        // rounded to 16-bit codes for the integer kernels.
        let shared = arena.buffer(worker: 0, slot: 7, count: cols / 32 * 2 + cols / 16 + cols / 2 + 1)
        let xsums = shared, xsums16 = xsums + cols / 32, inputScales = xsums16 + cols / 16
        let codes = UnsafeMutableRawPointer(inputScales + cols / 32).assumingMemoryBound(to: Int16.self)
        QuantizedDot.blockSums(x, cols, into: xsums)
        QuantizedDot.groupSums16(x, cols, into: xsums16)
        QuantizedDot.quantize(x, cols, codes: codes, scales: inputScales)
        let input = QuantizedDot.DecodeInput(codes: codes, scales: inputScales)
        let path = self.path
        forEachRowRange(of: jobs, rowsPerItem: matvecRowsPerItem) { job, rows, worker in
            let w = job.weights
            let (start, end) = (rows.lowerBound, rows.upperBound)
            switch (w.type, path) {
            case (.q8_0, .avx512):
                AVX512Kernels.q8_0(w.data, rowBytes: w.rowBytes, rows: rows, codes: codes, scales: inputScales, cols: cols, into: job.output)
                return
            case (.i8, .avx512):
                AVX512Kernels.int8Groups16(w.data, groupScales: w.groupScales!, rows: rows, codes: codes, scales: inputScales, cols: cols,
                                           into: job.output)
                return
            default: break
            }
            switch w.type {
            case .q8_0: for r in start..<end { job.output[r] = QuantizedDot.q8_0(w.row(r), input, cols) }
            case .q4_0: for r in start..<end { job.output[r] = QuantizedDot.q4_0(w.row(r), input, xsums, cols) }
            case .q4_1: for r in start..<end { job.output[r] = QuantizedDot.q4_1(w.row(r), input, xsums, cols) }
            case .q5_0: for r in start..<end { job.output[r] = QuantizedDot.q5_0(w.row(r), input, cols) }
            case .q5_1: for r in start..<end { job.output[r] = QuantizedDot.q5_1(w.row(r), input, xsums, cols) }
            case .q4_K: for r in start..<end { job.output[r] = QuantizedDot.q4_K(w.row(r), input, xsums, cols) }
            case .q5_K: for r in start..<end { job.output[r] = QuantizedDot.q5_K(w.row(r), input, xsums, cols) }
            case .q6_K: for r in start..<end { job.output[r] = QuantizedDot.q6_K(w.row(r), input, xsums16, cols) }
            case .i8: for r in start..<end { job.output[r] = QuantizedDot.int8Groups16(w.row(r), w.rowScales(r), input, cols) }
            case .f32: for r in start..<end { job.output[r] = dot(w.row(r).assumingMemoryBound(to: Float.self), x, cols) }
            case .f16: for r in start..<end { job.output[r] = QuantizedDot.f16(w.row(r), x, cols) }
            case .bf16: for r in start..<end { job.output[r] = QuantizedDot.bf16(w.row(r), x, cols) }
            default:
                // Q8_K (an activation format that model files do not hold) goes through a row buffer.
                let buffer = arena.buffer(worker: worker, slot: 1, count: cols)
                for r in start..<end {
                    w.dequantizeRow(r, into: buffer)
                    job.output[r] = dot(buffer, x, cols)
                }
            }
        }
    }

    // MARK: - Several rows: packed GEMM

    private func gemm(_ x: UnsafePointer<Float>, rows: Int, cols k: Int, _ jobs: [MatMulJob]) {
        let path = self.path
        let tr = path.gemmTileRows, tc = GEMM.tileCols
        let fullTiles = rows / tr, tailRows = rows % tr
        // The last, partial row tile is padded once and shared read-only by all workers.
        let paddedTail = arena.buffer(worker: 0, slot: 7, count: tr * k)
        if tailRows > 0 { GEMM.padRows(x + fullTiles * tr * k, k, rows: tailRows, k: k, tileRows: tr, into: paddedTail) }

        forEachRowRange(of: jobs, rowsPerItem: { _ in tc }) { job, rows, worker in
            let w = job.weights, y = job.output
            let n = w.rows
            let firstRow = rows.lowerBound
            let cols = rows.count
            let panel = arena.buffer(worker: worker, slot: 0, count: tc * k)
            let rowBuffer = arena.buffer(worker: worker, slot: 1, count: k)
            let cScratch = arena.buffer(worker: worker, slot: 2, count: tr * tc)
            ComputeContext.pack(w, firstRow: firstRow, count: cols, rowBuffer: rowBuffer, into: panel)
            for t in 0..<fullTiles {
                GEMM.edgeKernel(path, rows: tr, cols: cols, x + t * tr * k, k, panel, tc, k,
                                y + t * tr * n + firstRow, n, accumulate: false, cScratch: cScratch)
            }
            if tailRows > 0 {
                GEMM.edgeKernel(path, rows: tailRows, cols: cols, paddedTail, k, panel, tc, k,
                                y + fullTiles * tr * n + firstRow, n, accumulate: false, cScratch: cScratch)
            }
        }
    }

    /// Dequantizes weight rows firstRow..<firstRow+count into a k × 16 panel (row i of W becomes
    /// column i of the panel; missing columns are zero), the layout the micro-kernel reads B in.
    /// The 32-element formats are decoded straight into the panel, 8 weight rows at a time
    /// (`PanelPacking`); other formats, and the columns of a partial group of 8, go through the row
    /// buffer: one row dequantized, then stored down its column.
    static func pack(_ w: WeightMatrix, firstRow: Int, count: Int, rowBuffer: UnsafeMutablePointer<Float>,
                     into panel: UnsafeMutablePointer<Float>) {
        let k = w.cols, tc = GEMM.tileCols
        var j = 0
        if PanelPacking.handles(w.type) {
            while j + 8 <= count {
                PanelPacking.pack8(w, firstRow: firstRow + j, into: panel + j)
                j += 8
            }
        }
        while j < tc {
            if j < count {
                w.dequantizeRow(firstRow + j, into: rowBuffer)
                for i in 0..<k { panel[i * tc + j] = rowBuffer[i] }
            } else {
                for i in 0..<k { panel[i * tc + j] = 0 }
            }
            j += 1
        }
    }
}
