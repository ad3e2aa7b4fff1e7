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
///
/// On a machine shared with other processes, spinning turns against us: a helper the scheduler has
/// preempted mid-item holds the whole loop for a time slice (milliseconds, against loops of tens of
/// microseconds), while the caller and the idle helpers spin on cores the preempted one needs.
/// So waiting threads yield their core after a short spin, and the caller watches how long it
/// waits for helpers once its own items are done: when helpers keep lagging by more than the
/// loop's own length, loops run on the caller alone for a while (`soloLoops`), and then the helpers
/// are tried again. A quiet machine never lags that much, so there nothing changes.
final class WorkerPool: @unchecked Sendable {
    /// The process's pool: one helper per core beyond the calling thread (none on one core).
    static let shared = WorkerPool(helpers: min(63, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// How long an idle helper spins before it sleeps.
    static let spinNanoseconds: UInt64 = 2_000_000
    /// How long a waiting thread spins before it starts yielding its core at each check.
    static let yieldAfterNanoseconds: UInt64 = 20_000
    /// Loops run on the caller alone once helpers are found lagging, before they are tried again:
    /// about 45 decoded tokens of Gemma 3. Lagging again soon after (within `soloLoops` loops)
    /// doubles the next stretch, up to `maximumSoloLoops`: a busy machine tends to stay busy, and
    /// each try costs a few lagging loops. (1,024 loops, a dozen tokens, left 2-thread decoding
    /// beside one busy core 15% under the 1-thread figure on the Zen 4 VM: the tries cost too much.)
    static let soloLoops = 4096
    static let maximumSoloLoops = 1 << 16
    /// A helper lags when the caller, its own items done, waits longer than this many times the
    /// time it worked, and at least `lagFloorNanoseconds` (a wake-up from sleep is not a lag).
    static let lagRatio: UInt64 = 1
    static let lagFloorNanoseconds: UInt64 = 200_000
    /// Lagging loops, out of the last ones (a decaying count), that send the pool solo.
    static let lagsToGoSolo = 4

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
    // The caller's view of the helpers, touched only by the thread holding `busy`: a decaying
    // count of lagging loops (in sixteenths) and the solo loops left.
    private var recentLags = 0
    private var soloLoopsLeft = 0
    private var nextSoloLoops = soloLoops
    private var loopsSinceSolo = 0
    /// Loops that have run on the caller alone because helpers lagged (for `bench` to report).
    private let soloLoopCount = Atomic<Int>(0)
    var loopsRunSolo: Int { soloLoopCount.load(ordering: .relaxed) }

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
    /// (workers 1...helpers), or on the caller alone while helpers are lagging. Returns false,
    /// running nothing, when another loop is in progress.
    func run(_ items: Int, _ body: (_ item: Int, _ worker: Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        if soloLoopsLeft > 0 {
            soloLoopsLeft -= 1
            soloLoopCount.add(1, ordering: .relaxed)
            for i in 0..<items { body(i, 0) }
            busy.store(false, ordering: .releasing)
            return true
        }
        withoutActuallyEscaping(body) { body in
            self.items = items
            self.body = body
            nextItem.store(0, ordering: .relaxed)
            unfinished.store(helpers, ordering: .relaxed)
            let started = DispatchTime.now().uptimeNanoseconds
            generation.add(1, ordering: .releasing)
            var asleep = sleeping.exchange(0, ordering: .acquiringAndReleasing)
            while asleep != 0 {
                let i = asleep.trailingZeroBitCount
                wakeups[i].signal()
                asleep &= asleep - 1
            }
            work(as: 0, body)
            let worked = DispatchTime.now().uptimeNanoseconds
            Self.wait(since: worked) { unfinished.load(ordering: .acquiring) > 0 }
            noteLag(waited: DispatchTime.now().uptimeNanoseconds - worked, worked: worked - started)
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Counts a loop whose helpers finished long after the caller, and sends the pool solo when
    /// such loops keep coming.
    private func noteLag(waited: UInt64, worked: UInt64) {
        loopsSinceSolo += 1
        recentLags -= recentLags / 16
        if waited > max(Self.lagFloorNanoseconds, worked * Self.lagRatio) { recentLags += 16 }
        if recentLags >= Self.lagsToGoSolo * 16 {
            nextSoloLoops = loopsSinceSolo < Self.soloLoops ? min(2 * nextSoloLoops, Self.maximumSoloLoops) : Self.soloLoops
            recentLags = 0
            loopsSinceSolo = 0
            soloLoopsLeft = nextSoloLoops
        }
    }

    /// Spins while `condition` holds, yielding the core at each check once it has spun for
    /// `yieldAfterNanoseconds`, so that a thread preempted on this core can run.
    @inline(__always)
    private static func wait(since start: UInt64, while condition: () -> Bool) {
        var checks = 0
        while condition() {
            checks &+= 1
            if checks & 63 == 0, DispatchTime.now().uptimeNanoseconds - start > yieldAfterNanoseconds { sched_yield() }
        }
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
            var idleSince = DispatchTime.now().uptimeNanoseconds
            var checks = 0
            while generation.load(ordering: .acquiring) == seen {
                checks &+= 1
                guard checks & 1023 == 0 else { continue }
                let idle = DispatchTime.now().uptimeNanoseconds - idleSince
                if idle > Self.spinNanoseconds {
                    sleep(i, unless: seen)
                    idleSince = DispatchTime.now().uptimeNanoseconds
                } else if idle > Self.yieldAfterNanoseconds {
                    sched_yield()
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
