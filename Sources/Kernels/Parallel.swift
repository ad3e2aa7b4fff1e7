import Dispatch
import Foundation
import Synchronization

/// How many threads the kernels use. Every parallel loop runs on at most `threads` workers, and each
/// worker has a stable index so it can own scratch memory without locking.
public struct Parallelism: Sendable, Equatable {
    public var threads: Int

    public init(threads: Int) { self.threads = max(1, threads) }

    /// Every core the process may run on.
    public static var allCores: Parallelism { Parallelism(threads: ProcessInfo.processInfo.activeProcessorCount) }

    /// Runs `body(item, worker)` for every item in `0..<items`. Workers take items dynamically (an
    /// atomic counter), so a core slowed by other load does not hold the others up. With one thread
    /// per core (the default) the loop runs on the process's `WorkerPool`, whose helpers stay awake
    /// between loops; other thread counts, or a loop started while another runs, use Dispatch.
    public func forEach(_ items: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let workers = min(threads, items)
        if workers <= 1 {
            for i in 0..<items { body(i, 0) }
            return
        }
        let pool = WorkerPool.shared
        if threads == pool.helpers + 1, pool.run(items, body) { return }
        let counter = WorkCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while true {
                let item = counter.next.wrappingAdd(1, ordering: .relaxed).oldValue
                if item >= items { break }
                body(item, worker)
            }
        }
    }
}

extension Parallelism {
    /// Parallel loops that ran on the calling thread alone, since the process started, because
    /// the pool's helpers kept lagging (another process had their cores).
    public static var loopsRunSolo: Int { WorkerPool.shared.loopsRunSolo }
}

private final class WorkCounter: Sendable {
    let next = Atomic<Int>(0)
}

/// Per-worker scratch buffers of floats, grown on demand and reused across calls so that hot loops
/// never allocate. Bookkeeping lives in raw memory: workers grow their own slots concurrently.
public final class ScratchArena: @unchecked Sendable {
    private let buffers: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let sizes: UnsafeMutablePointer<Int>
    private let slots: Int
    public let workers: Int

    /// `slots` independent buffers per worker (a kernel may need several at once).
    public init(workers: Int, slots: Int) {
        self.workers = workers
        self.slots = slots
        buffers = .allocate(capacity: workers * slots)
        buffers.initialize(repeating: nil, count: workers * slots)
        sizes = .allocate(capacity: workers * slots)
        sizes.initialize(repeating: 0, count: workers * slots)
    }

    deinit {
        for i in 0..<(workers * slots) { buffers[i]?.deallocate() }
        buffers.deallocate()
        sizes.deallocate()
    }

    /// A buffer of at least `count` floats (zero when first allocated) for `worker`'s slot `slot`.
    /// Only that worker may touch it until the parallel loop ends.
    @inline(__always)
    public func buffer(worker: Int, slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
        let i = worker * slots + slot
        if sizes[i] >= count, let b = buffers[i] { return b }
        return grow(i, count)
    }

    private func grow(_ i: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        buffers[i]?.deallocate()
        let rounded = (count + 15) / 16 * 16
        let b = UnsafeMutablePointer<Float>.allocate(capacity: rounded)
        b.initialize(repeating: 0, count: rounded)
        buffers[i] = b
        sizes[i] = rounded
        return b
    }
}
