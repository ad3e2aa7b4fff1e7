import XCTest
import GGUFTestSupport
import Kernels
import ModelTestSupport

final class AttentionTests: KernelPathTestCase {
    /// A cache laid out the way `KeyValueSpan` reads it: half-precision key panels [d][16] and value rows.
    struct Cache {
        var keyPanels: [Float16]
        var values: [Float16]
        let headDim: Int
        let capacity: Int

        init(headDim: Int, capacity: Int) {
            self.headDim = headDim
            self.capacity = capacity
            keyPanels = [Float16](repeating: 0, count: capacity * headDim)
            values = [Float16](repeating: 0, count: capacity * headDim)
        }

        mutating func set(slot: Int, key: [Float], value: [Float]) {
            for d in 0..<headDim {
                keyPanels[(slot / 16) * headDim * 16 + d * 16 + slot % 16] = Float16(key[d])
                values[slot * headDim + d] = Float16(value[d])
            }
        }
    }

    /// Plain softmax attention in Double.
    func reference(query: [Float], keys: [[Float]], values: [[Float]], keyPositions: [Int], position: Int, window: Int) -> [Double] {
        var scores: [(Double, Int)] = []
        for (j, p) in keyPositions.enumerated() where p <= position && position - p < window {
            scores.append((zip(query, keys[j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }, j))
        }
        let m = scores.map(\.0).max()!
        let weights = scores.map { (Foundation.exp($0.0 - m), $0.1) }
        let total = weights.reduce(0) { $0 + $1.0 }
        var out = [Double](repeating: 0, count: query.count)
        for (w, j) in weights { for d in 0..<query.count { out[d] += w / total * Double(values[j][d]) } }
        return out
    }

    /// Fills a cache with `count` positions starting at `start` (ring of `capacity` slots when
    /// `count` exceeds it), queries `queryPositions`, and compares with the reference.
    func check(headDim: Int, heads: Int, start: Int, count: Int, capacity: Int, queryPositions: [Int], window: Int, threads: Int,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededGenerator(seed: UInt64(count * 31 + heads))
        // Half-precision values, so that the cache's rounding does not enter the comparison.
        func vector() -> [Float] { (0..<headDim).map { _ in Float(Float16(Float.random(in: -1...1, using: &rng))) } }
        var cache = Cache(headDim: headDim, capacity: capacity)
        var keys: [[Float]] = [], values: [[Float]] = [], positions: [Int] = []
        for p in start..<(start + count) {
            let k = vector(), v = vector()
            keys.append(k); values.append(v); positions.append(p)
            cache.set(slot: p % capacity, key: k, value: v)
        }
        // Only positions still resident in the ring are visible.
        let resident = max(start, start + count - capacity)
        let keep = positions.indices.filter { positions[$0] >= resident }
        keys = keep.map { keys[$0] }; values = keep.map { values[$0] }; positions = keep.map { positions[$0] }

        let tokens = queryPositions.count
        let queries = (0..<(tokens * heads)).flatMap { _ in vector() }
        var output = [Float](repeating: .nan, count: tokens * heads * headDim)
        let context = ComputeContext(parallelism: Parallelism(threads: threads), path: kernelPath)
        cache.keyPanels.withUnsafeBufferPointer { kp in cache.values.withUnsafeBufferPointer { vp in
            // Resident slots as one or two spans, each starting on a panel boundary.
            let end = start + count
            let firstSlot = resident % capacity
            var spans: [KeyValueSpan] = []
            let alignedFirst = resident - firstSlot % 16
            let alignedSlot = alignedFirst % capacity
            let untilWrap = capacity - alignedSlot
            let total = end - alignedFirst
            spans.append(KeyValueSpan(keyPanels: kp.baseAddress! + alignedSlot * headDim, values: vp.baseAddress! + alignedSlot * headDim,
                                      valueStride: headDim, firstPosition: alignedFirst, count: min(total, untilWrap)))
            if total > untilWrap {
                spans.append(KeyValueSpan(keyPanels: kp.baseAddress!, values: vp.baseAddress!, valueStride: headDim,
                                          firstPosition: alignedFirst + untilWrap, count: total - untilWrap))
            }
            // Slots before `resident` in the first panel hold stale positions; give them positions
            // below the window by restricting the window instead of trusting the data.
            queries.withUnsafeBufferPointer { qp in output.withUnsafeMutableBufferPointer { op in queryPositions.withUnsafeBufferPointer { pp in
                context.attend(AttentionQueries(queries: qp.baseAddress!, output: op.baseAddress!, tokens: tokens, headsPerToken: heads,
                                                tokenStride: heads * headDim, positions: pp.baseAddress!),
                               headDim: headDim, spans: spans, window: window)
            } } }
        } }
        // The kernel rounds the softmax weights to half precision before weighting the values.
        for t in 0..<tokens { for h in 0..<heads {
            let q = Array(queries[((t * heads + h) * headDim)..<((t * heads + h + 1) * headDim)])
            let want = reference(query: q, keys: keys, values: values, keyPositions: positions, position: queryPositions[t], window: window)
            for d in 0..<headDim where abs(Double(output[(t * heads + h) * headDim + d]) - want[d]) > 2e-3 {
                XCTFail("token \(t) head \(h) dim \(d): got \(output[(t * heads + h) * headDim + d]) want \(want[d])", file: file, line: line)
                return
            }
        } }
    }

    func testCausalPrefillChunkMatchesReference() {
        onEveryKernelPath {
            // 50 new tokens after 30 cached ones; 4 query heads share the KV head.
            check(headDim: 32, heads: 4, start: 0, count: 80, capacity: 96, queryPositions: Array(30..<80), window: .max, threads: 2)
        }
    }

    func testSingleQueryOverManyKeysSplitsAcrossThreads() {
        onEveryKernelPath {
            check(headDim: 64, heads: 4, start: 0, count: 1000, capacity: 1024, queryPositions: [999], window: .max, threads: 2)
            check(headDim: 64, heads: 1, start: 0, count: 700, capacity: 1024, queryPositions: [699], window: .max, threads: 3)
        }
    }

    func testSlidingWindowOverARingThatWraps() {
        onEveryKernelPath {
            // Capacity 64 holds positions 136..<200 in two spans; the window keeps the last 40 keys.
            check(headDim: 16, heads: 2, start: 100, count: 100, capacity: 64, queryPositions: Array(190..<200), window: 40, threads: 2)
            check(headDim: 16, heads: 2, start: 100, count: 100, capacity: 64, queryPositions: [199], window: 40, threads: 2)
        }
    }

    func testFirstTokenSeesOnlyItself() {
        onEveryKernelPath {
            check(headDim: 16, heads: 3, start: 0, count: 1, capacity: 16, queryPositions: [0], window: .max, threads: 1)
        }
    }
}

import Foundation
