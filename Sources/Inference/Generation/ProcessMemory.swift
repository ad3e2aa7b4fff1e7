import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Memory figures of this process and machine, from /proc (Linux).
public enum ProcessMemory {
    /// Peak resident set size in bytes (VmHWM), or nil where /proc is unavailable.
    public static var peakResidentBytes: Int? { statusField("VmHWM:") }

    /// Resident set size now (VmRSS), or nil where /proc is unavailable.
    public static var residentBytes: Int? { statusField("VmRSS:") }

    /// Resets the peak to the current resident set size (Linux's clear_refs), so the next reading
    /// of `peakResidentBytes` covers only what happens from now on. The heap's free memory goes back
    /// to the kernel first (glibc's malloc_trim): a previous sample's freed stores can stay resident
    /// in the heap, and the peak would start from them (a streaming-llm sample after an InfLLM one
    /// read InfLLM's 478 MiB). Returns false where unsupported.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        _ = mallocTrim?(0)
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    /// glibc's malloc_trim, looked up at run time: Swift's Glibc module does not declare it, and
    /// other C libraries do not have it.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// Memory the kernel says can be given to a new allocation without swapping (MemAvailable).
    public static var availableBytes: Int? { field("/proc/meminfo", "MemAvailable:") }

    private static func statusField(_ name: String) -> Int? { field("/proc/self/status", name) }

    private static func field(_ path: String, _ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kb = Int(parts[1]) else { return nil }
            return kb * 1024
        }
        return nil
    }
}
