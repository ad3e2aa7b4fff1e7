import XCTest
import Inference
#if canImport(Glibc)
import Glibc
#endif

/// Peak memory is measured per sample: the peak is reset before each one, and it must then start
/// from what the process really holds, not from memory an earlier sample freed.
final class ProcessMemoryTests: XCTestCase {
    /// 200 MB in 100 KB blocks (below glibc's mmap threshold, so they come from the heap); every
    /// other block is freed, so each freed block lies between live ones and free alone can hand
    /// none of it back. After the reset the peak counts the live half only.
    func testResettingThePeakStartsFromWhatTheProcessHolds() throws {
        let blockBytes = 100 << 10, count = 2000
        let blocks = (0..<count).map { _ -> UnsafeMutableRawPointer in
            let block = malloc(blockBytes)!
            memset(block, 1, blockBytes)
            return block
        }
        defer { stride(from: 1, to: count, by: 2).forEach { free(blocks[$0]) } }
        guard let holding = ProcessMemory.residentBytes else { throw XCTSkip("this system does not report the resident set") }
        stride(from: 0, to: count, by: 2).forEach { free(blocks[$0]) }
        XCTAssertTrue(ProcessMemory.resetPeakResident())
        let peak = try XCTUnwrap(ProcessMemory.peakResidentBytes)
        let freed = count / 2 * blockBytes
        XCTAssertLessThan(peak, holding - freed * 3 / 4, "the freed half went back to the kernel before the reset")
    }
}
