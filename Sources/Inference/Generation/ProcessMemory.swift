import Foundation

/// Memory figures of this process and machine, from /proc (Linux).
public enum ProcessMemory {
    /// Peak resident set size in bytes (VmHWM), or nil where /proc is unavailable.
    public static var peakResidentBytes: Int? { statusField("VmHWM:") }

    /// Resets the peak to the current resident set size (Linux's clear_refs), so the next reading
    /// of `peakResidentBytes` covers only what happens from now on. Returns false where unsupported.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

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
