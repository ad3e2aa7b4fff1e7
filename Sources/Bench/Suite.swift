import Foundation
import Results

/// A suite file (`tasks/suites/NAME.json`): runs to do together, each entry the fields of
/// `lmbench run` (`RunSettings`), e.g. for a nightly leaderboard.
public struct Suite: Decodable, Sendable {
    public var generator: String
    public var name: String
    public var description: String?
    public var runs: [RunSettings]

    public static func load(_ path: String) throws -> Suite {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the suite file") }
        let suite: Suite
        do {
            suite = try TaskFile.decode(Suite.self, from: data, path: path)
        } catch let error as TaskError {
            throw TaskError("not a suite file: " + error.description)
        }
        guard suite.generator == "suite", !suite.runs.isEmpty else {
            throw TaskError("\(path): a suite needs \"generator\": \"suite\" and at least one run")
        }
        return suite
    }
}

extension Runner.Summary {
    /// What `lmbench run` prints when a run ends.
    public func describe(storePath: String, engines: [String], dbOption: String?) -> String {
        let counts = SampleStatus.allCases.compactMap { s in self.counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
        var lines = notes.map { "note: " + $0 }
        lines.append("run \(runID)\(resumed ? " (resumed: \(alreadyDone) samples were already stored)" : ""): "
                     + "\(ran) samples stored\(counts.isEmpty ? "" : " (\(counts))") in \(storePath)")
        for engine in engines {
            if let m = meanScore[engine] { lines.append("  \(engine): mean score \(String(format: "%.3f", m.score)) (n=\(m.n))") }
        }
        lines.append("report: lmbench report --run \(runID)\(dbOption.map { " --db \($0)" } ?? "")")
        return lines.joined(separator: "\n")
    }
}
