import Foundation

/// Which instruction-set path the kernels run, for `lmbench bench` to print beside its figures.
/// There is one: every target is built for `haswell` (AVX2, FMA, F16C; Package.swift), on every
/// machine. The CPU's vector extensions beyond it are listed so that a figure measured on an
/// AVX-512 machine says that lmbench left them unused (llama.cpp's native build does use them).
public enum KernelPath {
    public static let name = "AVX2 + FMA + F16C (built for haswell)"

    /// The AVX-512 feature flags of this CPU (/proc/cpuinfo), none when it has none.
    public static func unusedExtensions() -> [String] {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return line.split(separator: " ").map(String.init).filter { $0.hasPrefix("avx512") }.sorted()
    }

    /// "AVX2 + FMA + F16C (built for haswell)", with the unused AVX-512 extensions named after it.
    public static func summary() -> String {
        let unused = unusedExtensions()
        return unused.isEmpty ? name : name + "; this CPU's \(unused.joined(separator: ", ")) are not used"
    }
}
