import Foundation
import Results

/// A results store filled with rows written by the test: two engines over a length (and depth) grid.
public enum SyntheticStore {
    public static func make() throws -> (ResultsStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-reports-\(UUID().uuidString)")
        return (try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path), dir)
    }

    /// A run of `task` with `engines`; `score(engine, length, depth, i)` gives each sample's score.
    @discardableResult
    public static func addRun(_ store: ResultsStore, task: String = "needle", engines: [String], lengths: [Int], depths: [Double?],
                       samples: Int, tags: [String: String] = [:], prefill: (String, Int) -> Double = { _, l in Double(l) / 500 * 1000 },
                       rss: (String, Int) -> Int = { _, l in (300 << 20) + l * 1024 },
                       score: (String, Int, Double?, Int) -> Double) throws -> Int64 {
        let run = try store.insertRun(RunRecord(
            key: UUID().uuidString, task: task, taskParameters: [:],
            engines: engines.map { EngineRecord(label: $0, strategy: $0, parameters: ["threads": "2"]) },
            modelPath: "m.gguf", modelName: "Gemma 3 270m", modelSHA256: "a5fd", seed: 42, lmbenchVersion: "test",
            machine: MachineFacts(cpu: "cpu", cores: 2, memoryBytes: 1 << 34, os: "linux"), tags: tags, command: "test",
            plannedSamples: engines.count * lengths.count * depths.count * samples))
        for engine in engines {
            for length in lengths {
                for depth in depths {
                    for i in 0..<samples {
                        let key = "\(task)/\(length)/\(depth.map { "\($0)" } ?? "u")/\(i)"
                        try store.record(SampleRecord(
                            runID: run.id, engine: engine, sampleKey: key, task: task, dataset: task, sampleID: key,
                            lengthTokens: length, depth: depth, lengthWords: nil, expected: ["x"], output: "x",
                            score: score(engine, length, depth, i), metric: "contains_all", promptTokens: length, truncated: false,
                            prefillMs: prefill(engine, length), timeToFirstTokenMs: prefill(engine, length) + 20, decodeMs: 100,
                            decodeTokens: 4, decodeTokensPerSecond: 40, peakRSSBytes: rss(engine, length),
                            attentionStateBytes: length * 1024, status: .ok, error: nil))
                    }
                }
            }
        }
        try store.markFinished(runID: run.id)
        return run.id
    }
}
