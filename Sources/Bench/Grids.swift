import Foundation
import GGUF

/// A bad length, depth or engine specification on the command line or in a suite file.
public struct SpecError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Text a user gave (the command line, a suite or data file) as an error message shows it: quoted,
/// escaped and cut short as names read from model files are, so the message stays one line.
func quoted(_ text: some StringProtocol) -> String { GGUFError.quoted(String(text)) }

/// Token counts: `512`, `4k` (4096), `1M` (1048576); lists `1k,3k,8k`; doubling ranges `4k..1M`;
/// stepped ranges `4k..32k:+4k`.
public enum LengthGrid {
    /// Longest length accepted (2^30 tokens).
    public static let maximum = 1 << 30
    /// Most values one grid (`--lengths`, `--depths`) may hold: more than any sweep runs, few enough
    /// that a slip such as `1..1024M:+1` is refused before anything is allocated for it.
    public static let maximumPoints = 10_000

    public static func parse(_ text: String, option: String = "lengths") throws -> [Int] {
        var lengths: [Int] = []
        func reserve(_ points: Int, for piece: String) throws {
            guard points <= maximumPoints - lengths.count else {
                throw SpecError("--\(option): \(piece) makes more than the \(maximumPoints) lengths a grid may hold")
            }
        }
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = part.trimmingCharacters(in: .whitespaces)
            guard let dots = piece.range(of: "..") else {
                try reserve(1, for: "the list")
                lengths.append(try length(piece, option))
                continue
            }
            let low = try length(String(piece[..<dots.lowerBound]), option)
            var rest = String(piece[dots.upperBound...])
            var step: Int?
            if let colon = rest.firstIndex(of: ":") {
                let stepText = rest[rest.index(after: colon)...]
                guard stepText.hasPrefix("+"), let n = tokens(String(stepText.dropFirst())) else {
                    throw SpecError("--\(option): step \(quoted(stepText)) in \(quoted(piece)) must be +N with N a length of 1 to 1024M tokens "
                                    + "(e.g. 4k..32k:+4k)")
                }
                step = n
                rest = String(rest[..<colon])
            }
            let high = try length(rest, option)
            guard low <= high else { throw SpecError("--\(option): range \(quoted(piece)) runs backwards") }
            // Counted before any is made: low, low + step, … below high, then high; doubling from 1
            // to `maximum` makes at most 31.
            try reserve(step.map { (high - low + $0 - 1) / $0 + 1 } ?? maximum.trailingZeroBitCount + 1, for: quoted(piece))
            var n = low
            while n < high {
                lengths.append(n)
                n = step.map { n + $0 } ?? n * 2
            }
            lengths.append(high)
        }
        var seen = Set<Int>()
        return lengths.filter { seen.insert($0).inserted }
    }

    /// `512`, `4k` or `1M` as tokens, or nil unless it is 1 to `maximum`.
    static func tokens(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces)
        var multiplier = 1
        if digits.hasSuffix("k") || digits.hasSuffix("K") { multiplier = 1024; digits.removeLast() }
        else if digits.hasSuffix("M") || digits.hasSuffix("m") { multiplier = 1 << 20; digits.removeLast() }
        guard let n = Int(digits), n > 0, n <= maximum / multiplier else { return nil }
        return n * multiplier
    }

    static func length(_ text: String, _ option: String) throws -> Int {
        guard let n = tokens(text) else {
            throw SpecError("--\(option): \(quoted(text)) is not a length of 1 to 1024M tokens (write e.g. 512, 4k, 1M, 4k..64k or 4k..32k:+4k)")
        }
        return n
    }

    /// `4096` → "4k", `1048576` → "1M", `3000` → "3000".
    public static func label(_ n: Int) -> String {
        if n >= 1 << 20 && n % (1 << 20) == 0 { return "\(n >> 20)M" }
        if n >= 1024 && n % 1024 == 0 { return "\(n >> 10)k" }
        return "\(n)"
    }
}

/// Depths in percent of the haystack: `0..100/10` (from 0 to 100 in 10 equal steps: 11 depths),
/// lists `0,25,50`, single values.
public enum DepthGrid {
    public static func parse(_ text: String, option: String = "depths") throws -> [Double] {
        var depths: [Double] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = part.trimmingCharacters(in: .whitespaces)
            if let dots = piece.range(of: "..") {
                let rest = piece[dots.upperBound...]
                guard let slash = rest.firstIndex(of: "/"), let steps = Int(rest[rest.index(after: slash)...]), steps > 0 else {
                    throw SpecError("--\(option): range \(quoted(piece)) needs a step count, e.g. 0..100/10")
                }
                let low = try depth(String(piece[..<dots.lowerBound]), option), high = try depth(String(rest[..<slash]), option)
                guard low <= high else { throw SpecError("--\(option): range \(quoted(piece)) runs backwards") }
                guard steps < LengthGrid.maximumPoints - depths.count else {
                    throw SpecError("--\(option): \(quoted(piece)) makes more than the \(LengthGrid.maximumPoints) depths a grid may hold")
                }
                // The ends exactly as written: low + (high - low) can round past high (0.1 + 99.9 > 100).
                for i in 0...steps { depths.append(i == steps ? high : min(high, low + (high - low) * Double(i) / Double(steps))) }
            } else {
                guard depths.count < LengthGrid.maximumPoints else {
                    throw SpecError("--\(option): the list makes more than the \(LengthGrid.maximumPoints) depths a grid may hold")
                }
                depths.append(try depth(piece, option))
            }
        }
        var seen = Set<Double>()
        return depths.filter { seen.insert($0).inserted }
    }

    static func depth(_ text: String, _ option: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), (0...100).contains(value) else {
            throw SpecError("--\(option): \(quoted(text)) is not a depth in percent from 0 to 100 (write e.g. 50, 0,50,100 or 0..100/10)")
        }
        return value
    }
}
