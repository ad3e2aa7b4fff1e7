import Foundation
import KernelsAVX512

/// The f32 multiply-add peak of this machine as this build reaches it, for judging kernels against
/// (`lmbench bench --gemm`). Measured, not computed from a clock and a datasheet: each thread runs
/// twelve independent chains of FMAs as wide as the kernel path's vectors (enough to cover the FMA
/// latency on both pipes of current x86 cores), so the figure is what the vector units give this
/// process right now; the best of three runs is kept. (Zen 4 splits each 16-wide FMA in two, so its
/// peak is the same on both paths; Intel's AVX-512 cores with two 512-bit FMA units double it.)
public enum PeakThroughput {
    /// Billions of f32 operations per second (an FMA counts as two) on `threads` threads.
    public static func fmaGigaflops(threads: Int, path: KernelPath) -> Double {
        let iterations = 100_000_000
        var best = 0.0
        for _ in 0..<3 {
            // Threads of their own, released together (a dispatch pool may still be one thread).
            let go = DispatchSemaphore(value: 0), done = DispatchGroup()
            for thread in 0..<threads {
                done.enter()
                Thread {
                    go.wait()
                    switch path {
                    case .avx2: sink(fmaChains(iterations, seed: Float(thread)))
                    case .avx512: sink(AVX512Kernels.fmaChains(iterations, seed: Float(thread)))
                    }
                    done.leave()
                }.start()
            }
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<threads { go.signal() }
            done.wait()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(threads * iterations * 12 * lanes(path) * 2) / seconds / 1e9)
        }
        return best
    }

    /// Floats per FMA on `path`.
    public static func lanes(_ path: KernelPath) -> Int { path == .avx512 ? 16 : 8 }

    /// Twelve accumulators a ← a + x·y, each its own dependency chain.
    @inline(never)
    static func fmaChains(_ iterations: Int, seed: Float) -> Float {
        let x = SIMD8<Float>(repeating: 0.5), y = SIMD8<Float>(repeating: 1e-3)
        var a0 = SIMD8<Float>(repeating: seed), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
        var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
        for _ in 0..<iterations {
            a0.addProduct(x, y); a1.addProduct(x, y); a2.addProduct(x, y); a3.addProduct(x, y)
            a4.addProduct(x, y); a5.addProduct(x, y); a6.addProduct(x, y); a7.addProduct(x, y)
            a8.addProduct(x, y); a9.addProduct(x, y); a10.addProduct(x, y); a11.addProduct(x, y)
        }
        return horizontalSum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11)
    }

    /// Keeps a result alive so the loop that made it is not removed.
    @inline(never)
    static func sink(_ value: Float) { if value.isNaN { print("", terminator: "") } }
}
