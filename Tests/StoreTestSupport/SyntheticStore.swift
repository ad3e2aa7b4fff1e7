import Foundation
import Results

/// A results store filled with rows written by the test: two engines over a length (and depth) grid.
public enum SyntheticStore {
    public static func make() throws -> (ResultsStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-reports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path), dir)
    }

    /// A run row of `task` with `engines`, every provenance field filled with a test value.
    public static func runRecord(task: String, engines: [String], tags: [String: String] = [:],
                                 taskParameters: [String: String] = [:], plannedSamples: Int = 0) -> RunRecord {
        var record = RunRecord()
        record.key = UUID().uuidString
        record.taskFamily = task
        record.task = task
        record.engines = engines.map { EngineRecord(label: $0, kind: "native", strategy: $0, parameters: ["threads": "2"]) }
        record.modelPath = "m.gguf"
        record.modelName = "Gemma 3 270m"
        record.modelSHA256 = "a5fd"
        record.seed = 42
        record.lmbenchVersion = "test"
        record.machine = MachineFacts(cpu: "cpu", cores: 2, memoryBytes: 1 << 34, os: "linux")
        record.tags = tags
        record.taskParameters = taskParameters
        record.command = "lmbench run \(task)"
        record.plannedSamples = plannedSamples
        return record
    }

    /// A run of `task` with `engines`; `score(engine, length, depth, i)` gives each sample's score.
    @discardableResult
    public static func addRun(_ store: ResultsStore, task: String = "needle", engines: [String], lengths: [Int], depths: [Double?],
                       samples: Int, tags: [String: String] = [:], taskParameters: [String: String] = [:],
                       metric: (String, MetricKind) = ("contains_all", .proportion), prefill: (String, Int) -> Double = { _, l in Double(l) / 500 * 1000 },
                       rss: (String, Int) -> Int = { _, l in (300 << 20) + l * 1024 },
                       contended: (String, Int) -> Bool = { _, _ in false },
                       score: (String, Int, Double?, Int) -> Double) throws -> Int64 {
        let record = runRecord(task: task, engines: engines, tags: tags, taskParameters: taskParameters,
                               plannedSamples: engines.count * lengths.count * depths.count * samples)
        let run = try store.insertRun(record)
        for engine in engines {
            for length in lengths {
                for depth in depths {
                    for i in 0..<samples {
                        let key = "\(task)/\(length)/\(depth.map { "\($0)" } ?? "u")/\(i)"
                        var s = SampleRecord()
                        s.runID = run.id
                        s.engine = engine
                        s.sampleKey = key
                        s.taskFamily = task
                        s.task = task
                        s.dataset = task
                        s.sampleID = key
                        s.length = length
                        s.depth = depth
                        s.expected = ["x"]
                        s.output = "x"
                        s.score = score(engine, length, depth, i)
                        s.metric = metric.0
                        s.metricKind = metric.1
                        s.promptTokens = length
                        s.prefillMs = prefill(engine, length)
                        s.timeToFirstTokenMs = prefill(engine, length) + 20
                        s.decodeMs = 100
                        s.decodeTokens = 4
                        s.decodeTokensPerSecond = 40
                        s.peakRSSBytes = rss(engine, length)
                        s.attentionStateBytes = length * 1024
                        s.contended = contended(engine, length)
                        try store.record(s)
                    }
                }
            }
        }
        try store.markFinished(runID: run.id)
        return run.id
    }
}

/// A call of `body` on a thread of its own; `wait()` returns its result.
public final class BackgroundCall<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// Written by the thread before it signals `done`, read only after waiting for it.
    private var result: Result<T, Error>?

    public init(_ body: @escaping () throws -> T) {
        Thread {
            self.result = Result { try body() }
            self.done.signal()
        }.start()
    }

    /// Waits for the call to end (call once).
    public func wait() -> Result<T, Error> {
        done.wait()
        return result!
    }
}

/// Calls `body(i)` for i in 0..<count, each on its own thread and all released at once, as
/// processes started together would be; returns the calls' results in order.
public func together<T>(_ count: Int, _ body: @escaping (Int) throws -> T) -> [Result<T, Error>] {
    let start = DispatchSemaphore(value: 0)
    let calls = (0..<count).map { i in
        BackgroundCall { () throws -> T in
            start.wait()
            return try body(i)
        }
    }
    for _ in 0..<count { start.signal() }
    return calls.map { $0.wait() }
}
