import Foundation

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
