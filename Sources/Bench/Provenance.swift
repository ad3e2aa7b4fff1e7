import Foundation
import GGUF
import Results

/// Facts about this machine and this build, for run rows.
public enum Provenance {
    public static func machine() -> MachineFacts {
        var cpu = "unknown"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var os = ProcessInfo.processInfo.operatingSystemVersionString
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            os = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        if let kernel = try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8) {
            os += ", Linux " + kernel.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return MachineFacts(cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                            memoryBytes: Int(ProcessInfo.processInfo.physicalMemory), os: os)
    }

    /// `LMBENCH_VERSION` if set; else the git revision of the checkout the sources are in (with
    /// `-dirty` for uncommitted changes, "unknown" without git) and the first 12 hex digits of this
    /// executable's sha256, so that a rebuilt binary is a new version even when the revision reads
    /// the same (uncommitted edits, or a `git pull` without a rebuild).
    public static func version() -> String {
        if let v = ProcessInfo.processInfo.environment["LMBENCH_VERSION"], !v.isEmpty { return v }
        let binary = (try? sha256(ofFile: "/proc/self/exe")).map { " (binary \($0.prefix(12)))" } ?? ""
        return revision() + binary
    }

    static func revision() -> String {
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", checkout.path, "describe", "--always", "--dirty", "--abbrev=12"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }

    /// sha256 of a file, read in 4 MiB pieces.
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TaskError("\(path): cannot read the file") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty {
            piece.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// A stable digest of a configuration (sorted-key JSON), used as a run's key.
    public static func digest<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data()
        return data.withUnsafeBytes { SHA256.hex($0) }
    }
}
