import XCTest
import Foundation
import Kernels

final class ParallelismTests: XCTestCase {
    /// Every item runs exactly once, on a worker index below the thread count, over many short
    /// loops in a row (the pattern of decoding) and with pauses long enough for helpers to sleep.
    func testEveryItemRunsOnceOnAValidWorker() {
        for threads in [ProcessInfo.processInfo.activeProcessorCount, 1, 3] {
            let parallelism = Parallelism(threads: threads)
            for round in 0..<300 {
                let items = round % 37
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(1, items))
                counts.initialize(repeating: 0, count: max(1, items))
                var badWorker = false
                let lock = NSLock()
                parallelism.forEach(items) { item, worker in
                    lock.lock(); counts[item] += 1; if worker < 0 || worker >= threads { badWorker = true }; lock.unlock()
                }
                XCTAssertFalse(badWorker, "threads \(threads)")
                for i in 0..<items where counts[i] != 1 { XCTFail("threads \(threads), round \(round): item \(i) ran \(counts[i]) times") }
                counts.deallocate()
                if round % 100 == 99 { Thread.sleep(forTimeInterval: 0.005) }
            }
        }
    }

    /// Loops started from two threads at once (the pool takes one, the other falls back) both
    /// complete every item.
    func testConcurrentLoopsFromTwoThreads() {
        let parallelism = Parallelism.allCores
        let totals = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        totals.initialize(repeating: 0, count: 2)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<200 {
                parallelism.forEach(50) { _, _ in lock.lock(); totals[caller] += 1; lock.unlock() }
            }
        }
        XCTAssertEqual(totals[0], 200 * 50)
        XCTAssertEqual(totals[1], 200 * 50)
        totals.deallocate()
    }
}
