import Foundation

/// One input run that `lmbench merge` folded into a run of its output: where it was stored and
/// the provenance its own run row held (the merged row can hold only one machine, version and
/// command). Each merged sample names its source in `sample_sources`, so timings can be told
/// apart by the machine that measured them.
public struct RunSource: Equatable, Sendable {
    /// The merged run in this database.
    public var runID = 0
    /// The database the input run was read from (absolute path, as on the machine that merged).
    public var database = ""
    /// The input run's id in that database.
    public var sourceRunID = 0
    /// `I/N` when the input run was one shard of a sweep.
    public var shard: String?
    public var key = ""
    public var lmbenchVersion = ""
    public var machine = MachineFacts.unknown
    public var command = ""
    public var modelPath = ""
    public var plannedSamples = 0
    public var createdAt = ""
    public var finishedAt: String?
    public var mergedAt = ""

    public init() {}

    /// The provenance of a run read straight from a database (not itself a merge).
    public init(of run: RunRecord, database: String, shard: String?) {
        self.database = database
        sourceRunID = Int(run.id)
        self.shard = shard
        key = run.key
        lmbenchVersion = run.lmbenchVersion
        machine = run.machine
        command = run.command
        modelPath = run.modelPath
        plannedSamples = run.plannedSamples
        createdAt = run.createdAt
        finishedAt = run.finishedAt
    }

    public static let table = Table<RunSource>(name: "run_sources", columns: [
        Column.integer("run_id", \RunSource.runID).declared("INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE"),
        .text("source_database", \.database),
        .integer("source_run_id", \.sourceRunID),
        .optionalText("shard", \.shard),
        .text("key", \.key),
        .text("lmbench_version", \.lmbenchVersion),
        .json("machine", \.machine),
        .text("command", \.command),
        .text("model_path", \.modelPath),
        .integer("planned_samples", \.plannedSamples),
        .text("created_at", \.createdAt),
        .optionalText("finished_at", \.finishedAt),
        .text("merged_at", \.mergedAt),
    ], make: RunSource.init)
}

extension ResultsStore {
    /// The provenance tables of merged runs (schema 5).
    static var runSourcesSQL: String {
        RunSource.table.createSQL + """

            CREATE TABLE sample_sources (
                sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
                source_id INTEGER NOT NULL REFERENCES run_sources(id) ON DELETE CASCADE
            );
            """
    }

    /// The sources a merged run was made from, by their row ids (none for a run that was not merged).
    public func runSources(runID: Int64) throws -> [(id: Int64, source: RunSource)] {
        try database.query("SELECT \(RunSource.table.selectList) FROM run_sources WHERE run_id = ? ORDER BY id", [runID]).map {
            let row = try RunSource.table.decode($0, database: path)
            return (id: row.id, source: row.record)
        }
    }

    /// The source row id of each merged sample of a run, by `completionKey`.
    public func sampleSourceIDs(runID: Int64) throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for row in try database.query("""
            SELECT s.engine, s.sample_key, ss.source_id FROM sample_sources ss JOIN samples s ON s.id = ss.sample_id WHERE s.run_id = ?
            """, [runID]) {
            ids[Self.completionKey(engine: row[0].string ?? "", sampleKey: row[1].string ?? "")] = Int64(row[2].int ?? 0)
        }
        return ids
    }

    /// Inserts a run row as it is (its creation and finishing times included) and returns its id.
    public func insertRunRow(_ run: RunRecord) throws -> Int64 {
        try database.query(RunRecord.table.insertSQL(orIgnore: false), RunRecord.table.values(run))
        return database.lastInsertedRowID
    }

    /// Inserts a sample row as it is, with its figures, and returns its id. A sample already stored
    /// under the same (run, engine, key) is an error, never a silent drop.
    @discardableResult
    public func insertSampleRow(_ sample: SampleRecord) throws -> Int64 {
        try database.query(SampleRecord.table.insertSQL(orIgnore: true), SampleRecord.table.values(sample))
        guard database.changes > 0 else {
            throw StoreError.alreadyStored(path: path, runID: sample.runID, engine: sample.engine, sampleKey: sample.sampleKey)
        }
        let id = database.lastInsertedRowID
        for (name, value) in sample.figures.sorted(by: { $0.key < $1.key }) {
            try database.query("INSERT INTO sample_metrics (sample_id, name, value) VALUES (?, ?, ?)", [id, name, value])
        }
        return id
    }

    /// Stores a merged run's source and returns its row id.
    public func insertRunSource(_ source: RunSource) throws -> Int64 {
        try database.query(RunSource.table.insertSQL(orIgnore: false), RunSource.table.values(source))
        return database.lastInsertedRowID
    }

    /// Records which source a merged sample came from.
    public func linkSample(_ sampleID: Int64, toSource sourceID: Int64) throws {
        try database.query("INSERT INTO sample_sources (sample_id, source_id) VALUES (?, ?)", [sampleID, sourceID])
    }

    /// Makes the file a plain rollback-journal database, its log folded in and gone, so that it can
    /// be renamed into place with no `-wal` or `-shm` file beside it. (The next writer to open it
    /// switches it back to the write-ahead log.)
    public func foldLogForMove() throws {
        try database.execute("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
    }
}
