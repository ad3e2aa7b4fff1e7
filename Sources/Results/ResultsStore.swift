import Foundation

/// The SQLite results store: runs, their samples, and the claims of samples being run. Each sample
/// is committed on its own, so a killed run loses at most the sample in flight.
///
/// Several lmbench processes may share one database. A writer creates or migrates the schema under
/// SQLite's write lock, and every statement waits for another process's lock (`busy_timeout`)
/// instead of failing. The journal is a write-ahead log (WAL), so a report reads while runs write.
/// Reading opens the file read-only and never changes it: a database of an older schema is
/// migrated in a copy in memory; in a folder this user cannot write, where SQLite cannot create
/// the WAL's `-shm` index, a database whose log is empty is read as immutable (nothing can write
/// it there: a writer would need to create the log beside it).
public final class ResultsStore {
    public enum Access {
        /// Create the file if it is missing, and create or migrate its schema.
        case readWrite
        /// Read an existing database without changing it.
        case readOnly
    }

    public static let defaultPath = "results/lmbench.sqlite"
    public let database: SQLiteDatabase
    public var path: String { database.path }

    /// Schema migrations of databases written by earlier versions; migration i takes `user_version`
    /// from i to i + 1. Append, never edit. A new database is created from the tables' declarations
    /// at the latest version (a test checks that both ways give the same schema).
    static let migrations: [String] = [
        // 1: the first schema.
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, key TEXT NOT NULL, task TEXT NOT NULL, task_parameters TEXT NOT NULL, engines TEXT NOT NULL,
            model_path TEXT NOT NULL, model_name TEXT NOT NULL, model_sha256 TEXT NOT NULL, seed INTEGER NOT NULL,
            lmbench_version TEXT NOT NULL, machine TEXT NOT NULL, tags TEXT NOT NULL, command TEXT NOT NULL,
            planned_samples INTEGER NOT NULL, created_at TEXT NOT NULL, finished_at TEXT
        );
        CREATE INDEX runs_by_key ON runs(key);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, engine TEXT NOT NULL,
            sample_key TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, sample_id TEXT NOT NULL,
            length_tokens INTEGER NOT NULL, depth REAL, length_words INTEGER, expected TEXT NOT NULL, output TEXT NOT NULL,
            score REAL, metric TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, truncated INTEGER NOT NULL, prefill_ms REAL,
            ttft_ms REAL, decode_ms REAL, decode_tokens INTEGER NOT NULL, decode_tokens_per_second REAL,
            peak_rss_bytes INTEGER, attention_state_bytes INTEGER, status TEXT NOT NULL, error TEXT,
            finished_at TEXT NOT NULL, UNIQUE(run_id, engine, sample_key)
        );
        CREATE TABLE model_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified REAL NOT NULL, sha256 TEXT NOT NULL);
        """,
        // 2: task family, explicit length unit and metric kind; named per-sample figures. The samples
        // table is rebuilt (DROP COLUMN needs SQLite 3.35). A schema-1 run says its family through its
        // parameters (LongBench runs have `data`; generated tasks their metric), and its LongBench
        // rows hold words: in length_words, or in length_tokens for rows refused before running.
        """
        ALTER TABLE runs ADD COLUMN task_family TEXT NOT NULL DEFAULT '';
        ALTER TABLE runs ADD COLUMN chat_template TEXT NOT NULL DEFAULT 'none';
        UPDATE runs SET task_family = CASE
            WHEN json_extract(task_parameters, '$.data') IS NOT NULL THEN 'longbench'
            WHEN json_extract(task_parameters, '$.metric') = 'first_integer' THEN 'passkey'
            WHEN json_extract(task_parameters, '$.metric') = 'contains_all' THEN 'needle'
            ELSE task END;
        CREATE TABLE samples_v2 (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, engine TEXT NOT NULL,
            sample_key TEXT NOT NULL, task_family TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, sample_id TEXT NOT NULL,
            length INTEGER NOT NULL, length_unit TEXT NOT NULL, depth REAL, expected TEXT NOT NULL, output TEXT NOT NULL, score REAL,
            metric TEXT NOT NULL, metric_kind TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, truncated INTEGER NOT NULL,
            prefill_ms REAL, ttft_ms REAL, decode_ms REAL, decode_tokens INTEGER NOT NULL, decode_tokens_per_second REAL,
            peak_rss_bytes INTEGER, attention_state_bytes INTEGER, status TEXT NOT NULL, error TEXT, finished_at TEXT NOT NULL,
            UNIQUE(run_id, engine, sample_key)
        );
        INSERT INTO samples_v2 (id, run_id, engine, sample_key, task_family, task, dataset, sample_id, length, length_unit, depth,
                                expected, output, score, metric, metric_kind, prompt_tokens, truncated, prefill_ms, ttft_ms, decode_ms,
                                decode_tokens, decode_tokens_per_second, peak_rss_bytes, attention_state_bytes, status, error, finished_at)
        SELECT s.id, s.run_id, s.engine, s.sample_key, r.task_family, s.task, s.dataset, s.sample_id,
               COALESCE(s.length_words, s.length_tokens),
               CASE WHEN r.task_family = 'longbench' OR s.length_words IS NOT NULL THEN 'words' ELSE 'tokens' END,
               s.depth, s.expected, s.output, s.score, s.metric,
               CASE WHEN s.metric IN ('qa_f1', 'rouge_l', 'code_sim') THEN 'continuous' ELSE 'proportion' END,
               s.prompt_tokens, s.truncated, s.prefill_ms, s.ttft_ms, s.decode_ms, s.decode_tokens, s.decode_tokens_per_second,
               s.peak_rss_bytes, s.attention_state_bytes, s.status, s.error, s.finished_at
        FROM samples s JOIN runs r ON r.id = s.run_id;
        DROP TABLE samples;
        ALTER TABLE samples_v2 RENAME TO samples;
        \(sampleFiguresSQL)
        """,
        // 3: claims of the samples being run, so that processes sharing a run never run one twice.
        claimsSQL,
        // 4: what the process got of the machine while each sample ran (timings on a shared
        // machine are marked, not trusted). Older samples have no figures and count as uncontended.
        """
        ALTER TABLE samples ADD COLUMN cpu_seconds REAL;
        ALTER TABLE samples ADD COLUMN involuntary_switches INTEGER;
        ALTER TABLE samples ADD COLUMN load_average REAL;
        ALTER TABLE samples ADD COLUMN contended INTEGER NOT NULL DEFAULT 0;
        """,
        // 5: where the runs that `lmbench merge` joined came from (`RunSources.swift`).
        runSourcesSQL,
    ]
    public static var schemaVersion: Int { migrations.count }

    static let sampleFiguresSQL = """
        CREATE TABLE sample_metrics (
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (sample_id, name)
        );
        """

    /// The whole schema at the latest version, from the declarations.
    static var currentSchemaSQL: String {
        [RunRecord.table.createSQL, "CREATE INDEX runs_by_key ON runs(key);", SampleRecord.table.createSQL, sampleFiguresSQL,
         "CREATE TABLE model_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified REAL NOT NULL, sha256 TEXT NOT NULL);",
         claimsSQL, runSourcesSQL]
            .joined(separator: "\n")
    }

    /// Opens the database at `path`: for writing, creating the file (never its folder) and its
    /// schema if needed; for reading, only a database that exists.
    public init(path: String, access: Access = .readWrite) throws {
        switch access {
        case .readWrite: database = try Self.openForWriting(path)
        case .readOnly: database = try Self.openForReading(path)
        }
    }

    private static func openForWriting(_ path: String) throws -> SQLiteDatabase {
        let folder = (path as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        guard folder.isEmpty || (FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) else {
            throw StoreError.noFolder(path: path, folder: folder)
        }
        let database = try SQLiteDatabase(path: path, mode: .readWrite)
        try database.useWriteAheadLog()
        try database.execute("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
        try migrate(database)
        return database
    }

    private static func openForReading(_ path: String) throws -> SQLiteDatabase {
        // SQLite takes an empty file for an empty database (a new one may have all its commits in its log).
        guard fileSize(path) > 0 || fileSize(path + "-wal") > 0 else { throw StoreError.noDatabase(path: path) }
        var database = try SQLiteDatabase(path: path, mode: .readOnly)
        var version: Int
        do {
            version = try userVersion(database)
        } catch where database.lastErrorWasReadOnlyFolder {
            guard fileSize(path + "-wal") == 0 else { throw StoreError.unreadableLog(path: path) }
            database = try SQLiteDatabase(path: path, mode: .immutable)
            version = try userVersion(database)
        }
        guard version > 0 else {
            let tables = try database.query("SELECT count(*) FROM sqlite_master")[0][0].int ?? 0
            throw tables == 0 ? StoreError.noDatabase(path: path) : StoreError.notResults(path: path)
        }
        guard try pendingMigration(database) else { return database }
        let copy = try SQLiteDatabase(memoryCopyOf: database)
        try migrate(copy)
        return copy
    }

    /// The size of the file at `path`, 0 when there is none.
    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private static func userVersion(_ database: SQLiteDatabase) throws -> Int {
        try database.query("PRAGMA user_version")[0][0].int ?? 0
    }

    /// Whether the schema is older than this lmbench's; a newer one is an error.
    private static func pendingMigration(_ database: SQLiteDatabase) throws -> Bool {
        let version = try userVersion(database)
        guard version <= schemaVersion else {
            throw StoreError.newerSchema(path: database.path, found: version, supported: schemaVersion)
        }
        return version < schemaVersion
    }

    private static func migrate(_ database: SQLiteDatabase) throws {
        guard try pendingMigration(database) else { return }
        try database.transaction {
            // Read again under the write lock: another process may have created or migrated the
            // schema since the first read.
            guard try pendingMigration(database) else { return }
            let version = try userVersion(database)
            if version == 0 {
                try database.execute(currentSchemaSQL)
            } else {
                for step in version..<schemaVersion { try database.execute(migrations[step]) }
            }
            try database.execute("PRAGMA user_version = \(schemaVersion)")
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
        run.id = try insertRunRow(run)
        return run
    }

    /// Marks a run finished; a run already finished (by another process sharing it) keeps its time.
    public func markFinished(runID: Int64) throws {
        try database.query("UPDATE runs SET finished_at = ? WHERE id = ? AND finished_at IS NULL", [Self.now(), runID])
    }

    private func runs(where condition: String, _ parameters: [SQLBindable] = []) throws -> [RunRecord] {
        try database.query("SELECT \(RunRecord.table.selectList) FROM runs \(condition)", parameters).map { row in
            var (id, run) = try RunRecord.table.decode(row, database: path)
            run.id = id
            return run
        }
    }

    /// Every run, oldest first.
    public func runs() throws -> [RunRecord] { try runs(where: "ORDER BY id") }

    public func run(id: Int64) throws -> RunRecord {
        guard let run = try runs(where: "WHERE id = ?", [id]).first else { throw StoreError.noSuchRun(path: path, id: id) }
        return run
    }

    /// Runs of `task` that have not finished, newest first.
    public func unfinishedRuns(task: String) throws -> [RunRecord] {
        try runs(where: "WHERE task = ? AND finished_at IS NULL ORDER BY id DESC", [task])
    }

    public func latestRunID() throws -> Int64 {
        guard let id = try database.query("SELECT max(id) FROM runs")[0][0].int else {
            throw StoreError.empty(path: path, what: "no runs yet (run `lmbench run ...` first)")
        }
        return Int64(id)
    }

    /// Samples stored per run id.
    public func sampleCounts() throws -> [Int64: Int] {
        Dictionary(uniqueKeysWithValues: try database.query("SELECT run_id, count(*) FROM samples GROUP BY run_id").map {
            (Int64($0[0].int ?? 0), $0[1].int ?? 0)
        })
    }

    // MARK: Samples

    /// Stores one finished sample and its figures, and drops the claims on it, in one transaction.
    /// A sample already stored under the same (run, engine, key) is an error, never a silent drop:
    /// claims keep two processes from running one sample, so a second copy is a bug to hear about.
    public func record(_ sample: SampleRecord) throws {
        var sample = sample
        sample.finishedAt = Self.now()
        try database.transaction {
            try insertSampleRow(sample)
            try database.query("DELETE FROM claims WHERE run_id = ? AND engine = ? AND sample_key = ?",
                               [sample.runID, sample.engine, sample.sampleKey])
        }
    }

    /// The (engine, sample key) pairs already stored for a run.
    public func completedKeys(runID: Int64) throws -> Set<String> {
        Set(try database.query("SELECT engine, sample_key FROM samples WHERE run_id = ?", [runID]).map {
            Self.completionKey(engine: $0[0].string ?? "", sampleKey: $0[1].string ?? "")
        })
    }

    public static func completionKey(engine: String, sampleKey: String) -> String { engine + "\u{1F}" + sampleKey }

    /// Samples of the given runs, with their figures, in the order they were stored.
    public func samples(runIDs: [Int64]) throws -> [SampleRecord] {
        guard !runIDs.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: runIDs.count).joined(separator: ",")
        var figures: [Int64: [String: Double]] = [:]
        for row in try database.query("""
            SELECT m.sample_id, m.name, m.value FROM sample_metrics m JOIN samples s ON s.id = m.sample_id
            WHERE s.run_id IN (\(placeholders))
            """, runIDs) {
            if let value = row[2].double { figures[Int64(row[0].int ?? 0), default: [:]][row[1].string ?? ""] = value }
        }
        return try database.query("SELECT \(SampleRecord.table.selectList) FROM samples WHERE run_id IN (\(placeholders)) ORDER BY id",
                                  runIDs).map { row in
            var (id, sample) = try SampleRecord.table.decode(row, database: path)
            sample.figures = figures[id] ?? [:]
            return sample
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

