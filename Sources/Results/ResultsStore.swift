import Foundation

/// The machine a run ran on.
public struct MachineFacts: Codable, Equatable, Sendable {
    public var cpu: String
    public var cores: Int
    public var memoryBytes: Int
    public var os: String

    public init(cpu: String, cores: Int, memoryBytes: Int, os: String) {
        self.cpu = cpu
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.os = os
    }
}

/// One engine of a run: its label (what reports show, unique in the run), the strategy it runs and
/// every parameter it ran with (defaults included).
public struct EngineRecord: Codable, Equatable, Sendable {
    public var label: String
    public var strategy: String
    public var parameters: [String: String]

    public init(label: String, strategy: String, parameters: [String: String]) {
        self.label = label
        self.strategy = strategy
        self.parameters = parameters
    }
}

/// Everything needed to reproduce a run.
public struct RunRecord: Equatable, Sendable {
    public var id: Int64 = 0
    /// A digest of the configuration: re-running the same command finds this run and resumes it.
    public var key: String
    public var task: String
    public var taskParameters: [String: String]
    public var engines: [EngineRecord]
    public var modelPath: String
    public var modelName: String
    public var modelSHA256: String
    public var seed: Int
    public var lmbenchVersion: String
    public var machine: MachineFacts
    /// Free-form labels, e.g. `suite` and `nightly` (a date) for nightly runs.
    public var tags: [String: String]
    public var command: String
    public var createdAt: String = ""
    public var finishedAt: String?
    /// Samples planned, set when the run starts.
    public var plannedSamples: Int

    public init(key: String, task: String, taskParameters: [String: String], engines: [EngineRecord], modelPath: String,
                modelName: String, modelSHA256: String, seed: Int, lmbenchVersion: String, machine: MachineFacts,
                tags: [String: String], command: String, plannedSamples: Int) {
        self.key = key
        self.task = task
        self.taskParameters = taskParameters
        self.engines = engines
        self.modelPath = modelPath
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.seed = seed
        self.lmbenchVersion = lmbenchVersion
        self.machine = machine
        self.tags = tags
        self.command = command
        self.plannedSamples = plannedSamples
    }
}

/// How a sample ended.
public enum SampleStatus: String, Codable, Sendable, CaseIterable {
    case ok
    /// Not run: it could not fit in memory (or the engine cannot take it); `error` says why.
    case skipped
    /// Stopped at the per-sample time limit.
    case timedOut = "timed-out"
    /// The engine failed; `error` says how.
    case error
}

/// One sample run through one engine, with its score and costs.
public struct SampleRecord: Equatable, Sendable {
    public var runID: Int64
    public var engine: String
    /// Stable identity of the sample within its run (with `engine`, unique).
    public var sampleKey: String
    public var task: String
    /// The LongBench dataset, or the task name for generated tasks.
    public var dataset: String
    /// The sample's own id (LongBench `_id`, or a generated one).
    public var sampleID: String
    /// Nominal length in tokens (the grid length for generated tasks, the prompt tokens for loaded ones).
    public var lengthTokens: Int
    public var depth: Double?
    /// LongBench's `length` field (words), for LongBench-E buckets.
    public var lengthWords: Int?
    public var expected: [String]
    public var output: String
    /// 0…1; nil when the sample did not run.
    public var score: Double?
    public var metric: String
    public var promptTokens: Int
    public var truncated: Bool
    public var prefillMs: Double?
    public var timeToFirstTokenMs: Double?
    public var decodeMs: Double?
    public var decodeTokens: Int
    public var decodeTokensPerSecond: Double?
    public var peakRSSBytes: Int?
    public var attentionStateBytes: Int?
    public var status: SampleStatus
    public var error: String?
    public var finishedAt: String = ""

    public init(runID: Int64, engine: String, sampleKey: String, task: String, dataset: String, sampleID: String,
                lengthTokens: Int, depth: Double?, lengthWords: Int?, expected: [String], output: String, score: Double?,
                metric: String, promptTokens: Int, truncated: Bool, prefillMs: Double?, timeToFirstTokenMs: Double?,
                decodeMs: Double?, decodeTokens: Int, decodeTokensPerSecond: Double?, peakRSSBytes: Int?,
                attentionStateBytes: Int?, status: SampleStatus, error: String?) {
        self.runID = runID
        self.engine = engine
        self.sampleKey = sampleKey
        self.task = task
        self.dataset = dataset
        self.sampleID = sampleID
        self.lengthTokens = lengthTokens
        self.depth = depth
        self.lengthWords = lengthWords
        self.expected = expected
        self.output = output
        self.score = score
        self.metric = metric
        self.promptTokens = promptTokens
        self.truncated = truncated
        self.prefillMs = prefillMs
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.decodeMs = decodeMs
        self.decodeTokens = decodeTokens
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.peakRSSBytes = peakRSSBytes
        self.attentionStateBytes = attentionStateBytes
        self.status = status
        self.error = error
    }

    /// Prompt tokens per second of prefill.
    public var prefillTokensPerSecond: Double? {
        prefillMs.flatMap { $0 > 0 ? Double(promptTokens) / ($0 / 1000) : nil }
    }
}

/// The SQLite results store: runs and their samples. Opening a database creates or migrates its
/// schema (WAL journal, so reports can read while a run writes). Each sample is committed on its
/// own, so a killed run loses at most the sample in flight.
public final class ResultsStore {
    public static let defaultPath = "results/lmbench.sqlite"
    public let database: SQLiteDatabase
    public var path: String { database.path }

    /// Schema migrations; migration i takes `user_version` from i to i + 1. Append, never edit.
    static let migrations: [String] = [
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            task TEXT NOT NULL,
            task_parameters TEXT NOT NULL,
            engines TEXT NOT NULL,
            model_path TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_sha256 TEXT NOT NULL,
            seed INTEGER NOT NULL,
            lmbench_version TEXT NOT NULL,
            machine TEXT NOT NULL,
            tags TEXT NOT NULL,
            command TEXT NOT NULL,
            planned_samples INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX runs_by_key ON runs(key);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            engine TEXT NOT NULL,
            sample_key TEXT NOT NULL,
            task TEXT NOT NULL,
            dataset TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            length_tokens INTEGER NOT NULL,
            depth REAL,
            length_words INTEGER,
            expected TEXT NOT NULL,
            output TEXT NOT NULL,
            score REAL,
            metric TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            truncated INTEGER NOT NULL,
            prefill_ms REAL,
            ttft_ms REAL,
            decode_ms REAL,
            decode_tokens INTEGER NOT NULL,
            decode_tokens_per_second REAL,
            peak_rss_bytes INTEGER,
            attention_state_bytes INTEGER,
            status TEXT NOT NULL,
            error TEXT,
            finished_at TEXT NOT NULL,
            UNIQUE(run_id, engine, sample_key)
        );
        CREATE TABLE model_hashes (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            modified REAL NOT NULL,
            sha256 TEXT NOT NULL
        );
        """,
    ]
    public static var schemaVersion: Int { migrations.count }

    /// Opens (creating the file and its folder if needed) and migrates the database at `path`.
    public init(path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StoreError.sqlite(path: path, message: "cannot create the folder \(folder): \(error.localizedDescription)")
            }
        }
        database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
        try migrate()
    }

    private func migrate() throws {
        let version = try database.query("PRAGMA user_version")[0][0].int ?? 0
        guard version <= Self.schemaVersion else {
            throw StoreError.newerSchema(path: path, found: version, supported: Self.schemaVersion)
        }
        for step in version..<Self.schemaVersion {
            try database.transaction {
                try database.execute(Self.migrations[step])
                try database.execute("PRAGMA user_version = \(step + 1)")
            }
        }
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }

    // MARK: Runs

    /// Inserts `run` and returns it with its id and creation time.
    public func insertRun(_ run: RunRecord) throws -> RunRecord {
        var run = run
        run.createdAt = Self.now()
        try database.query("""
            INSERT INTO runs (key, task, task_parameters, engines, model_path, model_name, model_sha256, seed,
                              lmbench_version, machine, tags, command, planned_samples, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [run.key, run.task, JSONText.encode(run.taskParameters), JSONText.encode(run.engines), run.modelPath,
                  run.modelName, run.modelSHA256, run.seed, run.lmbenchVersion, JSONText.encode(run.machine),
                  JSONText.encode(run.tags), run.command, run.plannedSamples, run.createdAt])
        run.id = database.lastInsertedRowID
        return run
    }

    public func markFinished(runID: Int64) throws {
        try database.query("UPDATE runs SET finished_at = ? WHERE id = ?", [Self.now(), runID])
    }

    private static let runColumns = """
        id, key, task, task_parameters, engines, model_path, model_name, model_sha256, seed, lmbench_version, machine,
        tags, command, planned_samples, created_at, finished_at
        """

    private func decodeRun(_ row: [SQLValue]) throws -> RunRecord {
        var run = RunRecord(key: row[1].string ?? "", task: row[2].string ?? "",
                            taskParameters: try JSONText.decode(row[3].string, path: path),
                            engines: try JSONText.decode(row[4].string, path: path),
                            modelPath: row[5].string ?? "", modelName: row[6].string ?? "", modelSHA256: row[7].string ?? "",
                            seed: row[8].int ?? 0, lmbenchVersion: row[9].string ?? "",
                            machine: try JSONText.decode(row[10].string, path: path),
                            tags: try JSONText.decode(row[11].string, path: path), command: row[12].string ?? "",
                            plannedSamples: row[13].int ?? 0)
        run.id = Int64(row[0].int ?? 0)
        run.createdAt = row[14].string ?? ""
        run.finishedAt = row[15].string
        return run
    }

    /// Every run, oldest first.
    public func runs() throws -> [RunRecord] {
        try database.query("SELECT \(Self.runColumns) FROM runs ORDER BY id").map(decodeRun)
    }

    public func run(id: Int64) throws -> RunRecord {
        guard let row = try database.query("SELECT \(Self.runColumns) FROM runs WHERE id = ?", [id]).first else {
            throw StoreError.noSuchRun(path: path, id: id)
        }
        return try decodeRun(row)
    }

    /// The newest run with configuration `key` that has not finished, if any.
    public func unfinishedRun(key: String) throws -> RunRecord? {
        try database.query("SELECT \(Self.runColumns) FROM runs WHERE key = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                           [key]).first.map(decodeRun)
    }

    public func latestRunID() throws -> Int64 {
        guard let id = try database.query("SELECT max(id) FROM runs")[0][0].int else {
            throw StoreError.empty(path: path, what: "no runs yet (run `lmbench run ...` first)")
        }
        return Int64(id)
    }

    // MARK: Samples

    /// Stores one finished sample in its own transaction. A sample already stored under the same
    /// (run, engine, key) is left as it is, so resuming never duplicates rows.
    public func record(_ s: SampleRecord) throws {
        try database.transaction {
            try database.query("""
                INSERT OR IGNORE INTO samples (run_id, engine, sample_key, task, dataset, sample_id, length_tokens, depth,
                    length_words, expected, output, score, metric, prompt_tokens, truncated, prefill_ms, ttft_ms, decode_ms,
                    decode_tokens, decode_tokens_per_second, peak_rss_bytes, attention_state_bytes, status, error, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [s.runID, s.engine, s.sampleKey, s.task, s.dataset, s.sampleID, s.lengthTokens, s.depth, s.lengthWords,
                      JSONText.encode(s.expected), s.output, s.score, s.metric, s.promptTokens, s.truncated, s.prefillMs,
                      s.timeToFirstTokenMs, s.decodeMs, s.decodeTokens, s.decodeTokensPerSecond, s.peakRSSBytes,
                      s.attentionStateBytes, s.status.rawValue, s.error, Self.now()])
        }
    }

    /// The (engine, sample key) pairs already stored for a run.
    public func completedKeys(runID: Int64) throws -> Set<String> {
        Set(try database.query("SELECT engine, sample_key FROM samples WHERE run_id = ?", [runID]).map {
            Self.completionKey(engine: $0[0].string ?? "", sampleKey: $0[1].string ?? "")
        })
    }

    public static func completionKey(engine: String, sampleKey: String) -> String { engine + "\u{1F}" + sampleKey }

    /// Samples of the given runs, in the order they were stored.
    public func samples(runIDs: [Int64]) throws -> [SampleRecord] {
        guard !runIDs.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: runIDs.count).joined(separator: ",")
        return try database.query("""
            SELECT run_id, engine, sample_key, task, dataset, sample_id, length_tokens, depth, length_words, expected, output,
                   score, metric, prompt_tokens, truncated, prefill_ms, ttft_ms, decode_ms, decode_tokens,
                   decode_tokens_per_second, peak_rss_bytes, attention_state_bytes, status, error, finished_at
            FROM samples WHERE run_id IN (\(placeholders)) ORDER BY id
            """, runIDs).map { r in
            var s = SampleRecord(runID: Int64(r[0].int ?? 0), engine: r[1].string ?? "", sampleKey: r[2].string ?? "",
                                 task: r[3].string ?? "", dataset: r[4].string ?? "", sampleID: r[5].string ?? "",
                                 lengthTokens: r[6].int ?? 0, depth: r[7].double, lengthWords: r[8].int,
                                 expected: try JSONText.decode(r[9].string, path: path), output: r[10].string ?? "",
                                 score: r[11].double, metric: r[12].string ?? "", promptTokens: r[13].int ?? 0,
                                 truncated: r[14].int == 1, prefillMs: r[15].double, timeToFirstTokenMs: r[16].double,
                                 decodeMs: r[17].double, decodeTokens: r[18].int ?? 0, decodeTokensPerSecond: r[19].double,
                                 peakRSSBytes: r[20].int, attentionStateBytes: r[21].int,
                                 status: SampleStatus(rawValue: r[22].string ?? "") ?? .error, error: r[23].string)
            s.finishedAt = r[24].string ?? ""
            return s
        }
    }

    // MARK: Model hashes

    /// The sha256 of the file at `path`, computed by `compute` only when the file's size or
    /// modification time changed since it was last hashed.
    public func modelSHA256(path modelPath: String, compute: () throws -> String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: modelPath)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let absolute = URL(fileURLWithPath: modelPath).standardizedFileURL.path
        if let row = try database.query("SELECT size, modified, sha256 FROM model_hashes WHERE path = ?", [absolute]).first,
           row[0].int == size, row[1].double == modified, let hash = row[2].string {
            return hash
        }
        let hash = try compute()
        try database.query("INSERT OR REPLACE INTO model_hashes (path, size, modified, sha256) VALUES (?, ?, ?, ?)",
                           [absolute, size, modified, hash])
        return hash
    }
}

/// JSON columns: sorted keys, so equal values give equal text.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String?, path: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data((text ?? "null").utf8))
        } catch {
            throw StoreError.sqlite(path: path, message: "a stored JSON column is unreadable: \(error)")
        }
    }
}
