import Foundation
import KernelsAVX512

/// Which instruction-set path the kernels take. The Kernels module is built for `haswell` (AVX2, FMA,
/// F16C; Package.swift), the floor lmbench requires; the AVX-512 kernels live in a module of their own
/// (`KernelsAVX512`, built for `cascadelake`: AVX-512 F, CD, BW, DQ, VL and VNNI) and run only on a CPU
/// that has all of those, so one binary serves both kinds of machine. A `ComputeContext` takes the
/// best path by default; `LMBENCH_KERNELS=avx2` (or `lmbench bench --kernels avx2`) picks the AVX2 path
/// on an AVX-512 machine, for comparison and for testing both paths there.
public enum KernelPath: String, CaseIterable, Sendable {
    case avx2
    case avx512

    /// The extensions (as /proc/cpuinfo names them) each path needs beyond the baseline.
    public var requiredFlags: [String] {
        switch self {
        case .avx2: return ["avx2", "fma", "f16c"]
        case .avx512: return ["avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni"]
        }
    }

    /// How `lmbench bench` names the path.
    public var description: String {
        switch self {
        case .avx2: return "AVX2 + FMA + F16C (8-wide kernels, module built for haswell)"
        case .avx512: return "AVX-512 + VNNI (16-wide kernels, module built for cascadelake)"
        }
    }

    /// Rows of the GEMM micro-kernel's tile (its columns are always `GEMM.tileCols`, one weight panel).
    var gemmTileRows: Int {
        switch self {
        case .avx2: return GEMM.tileRows
        case .avx512: return AVX512Kernels.gemmTileRows
        }
    }

    /// Rows of the attention micro-kernels' tile.
    var attentionTileRows: Int {
        switch self {
        case .avx2: return AttentionTile.rows
        case .avx512: return AVX512Kernels.attentionTileRows
        }
    }

    /// This CPU's feature flags (/proc/cpuinfo).
    static let cpuFlags: Set<String> = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " ").map(String.init))
    }()

    /// The paths this CPU can run, best last (AVX2 only when /proc/cpuinfo cannot be read).
    public static let supported: [KernelPath] = cpuFlags.isEmpty ? [.avx2] : allCases.filter { $0.missingFlags.isEmpty }

    /// The path contexts take by default: `LMBENCH_KERNELS` when set (an unknown or unsupported value
    /// stops the process with a message naming it), else the best this CPU supports.
    public static let selected: KernelPath = {
        guard let name = ProcessInfo.processInfo.environment["LMBENCH_KERNELS"], !name.isEmpty else { return supported.last ?? .avx2 }
        do { return try named(name) } catch { fatalError("LMBENCH_KERNELS: \(error)") }
    }()

    /// The path called `name`, if this CPU supports it.
    public static func named(_ name: String) throws -> KernelPath {
        guard let path = KernelPath(rawValue: name) else {
            throw KernelPathError("unknown kernel path '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard supported.contains(path) else {
            throw KernelPathError("this CPU cannot run the \(name) kernels (it lacks \(path.missingFlags.joined(separator: ", ")))")
        }
        return path
    }

    /// The required extensions this CPU lacks (none reported when /proc/cpuinfo cannot be read).
    public var missingFlags: [String] {
        KernelPath.cpuFlags.isEmpty ? [] : requiredFlags.filter { !KernelPath.cpuFlags.contains($0) }
    }

    /// The vector extensions this CPU has that the path does not use (AVX-512 ones on the AVX2 path,
    /// AVX-512 extensions beyond the cascadelake set on the AVX-512 path).
    public var unusedExtensions: [String] {
        KernelPath.cpuFlags.filter { $0.hasPrefix("avx512") && !requiredFlags.contains($0) }.sorted()
    }

    /// "AVX-512 + VNNI (…); this CPU's … are not used".
    public var summary: String {
        let unused = unusedExtensions
        return unused.isEmpty ? description : description + "; this CPU's \(unused.joined(separator: ", ")) are not used"
    }
}

public struct KernelPathError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
