import Dispatch
import Foundation
import Synchronization

/// Helper threads that stay awake between parallel loops, one per core beside the caller's.
///
/// Decoding one token runs about 90 short parallel loops (each a mat-vec or one attention step,
/// tens of microseconds long). Waking a Dispatch worker for each cost about 12 µs here, a tenth of
/// decoding time on 2 cores, so helpers spin on a generation counter between loops, as llama.cpp's
/// threads do, and go to sleep only after `spinNanoseconds` without work (prompt building, sampling,
/// a finished run), so an idle process does not burn a core.
final class WorkerPool: @unchecked Sendable {
    /// The process's pool: one helper per core beyond the calling thread (none on one core).
    static let shared = WorkerPool(helpers: min(63, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// How long an idle helper spins before it sleeps.
    static let spinNanoseconds: UInt64 = 2_000_000

    let helpers: Int
    /// Set while a loop runs; a second caller (another thread) falls back to Dispatch.
    private let busy = Atomic<Bool>(false)
    /// Bumped to start a loop; helpers watch it.
    private let generation = Atomic<Int>(0)
    /// Helpers that have not yet finished the current loop.
    private let unfinished = Atomic<Int>(0)
    private let nextItem = Atomic<Int>(0)
    /// Bit i set: helper i is asleep (or about to be) on `wakeups[i]`.
    private let sleeping = Atomic<Int>(0)
    private let wakeups: [DispatchSemaphore]
    // The current loop, written before `generation` is bumped and read after it is seen.
    private var items = 0
    private var body: ((Int, Int) -> Void)?

    private init(helpers: Int) {
        self.helpers = max(0, helpers)
        wakeups = (0..<self.helpers).map { _ in DispatchSemaphore(value: 0) }
        for i in 0..<self.helpers {
            let thread = Thread { [unowned self] in self.helperLoop(i) }
            thread.name = "lmbench-worker-\(i + 1)"
            thread.start()
        }
    }

    /// Runs `body(item, worker)` for every item on the caller (worker 0) and every helper
    /// (workers 1...helpers). Returns false, running nothing, when another loop is in progress.
    func run(_ items: Int, _ body: (_ item: Int, _ worker: Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            self.items = items
            self.body = body
            nextItem.store(0, ordering: .relaxed)
            unfinished.store(helpers, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            var asleep = sleeping.exchange(0, ordering: .acquiringAndReleasing)
            while asleep != 0 {
                let i = asleep.trailingZeroBitCount
                wakeups[i].signal()
                asleep &= asleep - 1
            }
            work(as: 0, body)
            while unfinished.load(ordering: .acquiring) > 0 {}
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    private func work(as worker: Int, _ body: (Int, Int) -> Void) {
        while true {
            let item = nextItem.wrappingAdd(1, ordering: .relaxed).oldValue
            if item >= items { return }
            body(item, worker)
        }
    }

    private func helperLoop(_ i: Int) {
        var seen = 0
        while true {
            var spins = 0
            var idleSince = DispatchTime.now().uptimeNanoseconds
            while generation.load(ordering: .acquiring) == seen {
                spins &+= 1
                guard spins & 1023 == 0 else { continue }
                if DispatchTime.now().uptimeNanoseconds - idleSince > Self.spinNanoseconds {
                    sleep(i, unless: seen)
                    idleSince = DispatchTime.now().uptimeNanoseconds
                }
            }
            seen = generation.load(ordering: .acquiring)
            helperWork(i)
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    /// A helper's share of the current loop. Out of line so that the helper's reference to the
    /// loop body is released before it reports the loop finished: `run` checks on return that the
    /// body did not escape.
    @inline(never)
    private func helperWork(_ i: Int) {
        if let body { work(as: i + 1, body) }
    }

    /// Sleeps until the caller wakes helper i, unless a loop newer than `seen` has already started.
    private func sleep(_ i: Int, unless seen: Int) {
        let bit = 1 << i
        sleeping.bitwiseOr(bit, ordering: .acquiringAndReleasing)
        if generation.load(ordering: .acquiring) != seen {
            // A loop started meanwhile: withdraw, unless the caller already took the bit and will signal.
            let before = sleeping.bitwiseAnd(~bit, ordering: .acquiringAndReleasing).oldValue
            if before & bit != 0 { return }
        }
        wakeups[i].wait()
    }
}
