import CSQLite
import Foundation

/// A failure of the results store, naming the database file.
public enum StoreError: Error, CustomStringConvertible {
    case sqlite(path: String, message: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case noSuchRun(path: String, id: Int64)
    case empty(path: String, what: String)
    /// No file at the path, or an empty one (which SQLite would silently take for a new database).
    case noDatabase(path: String)
    /// A database that another program wrote: SQLite's, but without lmbench's schema.
    case notResults(path: String)
    /// The folder a new database would go in is missing (lmbench creates the file, never folders).
    case noFolder(path: String, folder: String)
    /// A read-only folder holding a write-ahead log that only a writer can fold into the file.
    case unreadableLog(path: String)
    case alreadyStored(path: String, runID: Int64, engine: String, sampleKey: String)

    public var description: String {
        switch self {
        case let .sqlite(path, message): return "\(path): \(message)"
        case let .newerSchema(path, found, supported):
            return "\(path): results schema version \(found) is newer than this lmbench understands (\(supported)); update lmbench"
        case let .noSuchRun(path, id): return "\(path): no run with id \(id)"
        case let .empty(path, what): return "\(path): \(what)"
        case let .noDatabase(path): return "no results database at \(path) (run `lmbench run ...` first, or pass --db PATH)"
        case let .notResults(path): return "\(path): not an lmbench results database"
        case let .noFolder(path, folder): return "cannot create \(path): the folder \(folder) does not exist"
        case let .unreadableLog(path):
            return "\(path): cannot read it from a read-only folder while its write-ahead log \(path)-wal holds commits; "
                + "open it once with write access (any lmbench run) to fold them in"
        case let .alreadyStored(path, runID, engine, sampleKey):
            return "\(path): sample \(sampleKey) of engine \(engine) is already stored in run \(runID)"
        }
    }
}

/// A value bound to or read from a statement.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var int: Int? { if case let .integer(v) = self { return Int(v) }; return nil }
    public var double: Double? {
        switch self {
        case let .real(v): return v
        case let .integer(v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case let .text(v) = self { return v }; return nil }
}

public protocol SQLBindable { var sqlValue: SQLValue { get } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { isFinite ? .real(self) : .null } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A thin wrapper over one SQLite connection: prepared statements with bound parameters, rows as
/// arrays of `SQLValue`, and transactions. Every error names the database file.
public final class SQLiteDatabase {
    /// How a connection opens its file.
    public enum Mode {
        /// Read and write, creating the file if it is missing (SQLite never creates its folder).
        case readWrite
        /// Read only, taking SQLite's locks: sees what writers commit while it reads.
        case readOnly
        /// Read only, without locks and without the write-ahead log: only for a file that nothing
        /// can be writing (see `ResultsStore`).
        case immutable
    }

    public let path: String
    private var handle: OpaquePointer?

    /// SQLite's own marker that a bound string must be copied before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// How long a statement waits for another connection's lock before it fails: other lmbench
    /// processes hold the write lock only while they commit one sample or claim one.
    static let busyTimeoutMilliseconds: Int32 = 10_000

    public init(path: String, mode: Mode) throws {
        self.path = path
        let name: String
        var flags = SQLITE_OPEN_FULLMUTEX
        switch mode {
        case .readWrite:
            name = path
            flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .readOnly:
            name = path
            flags |= SQLITE_OPEN_READONLY
        case .immutable:
            name = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?immutable=1"
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
        }
        try open(name, flags: flags)
    }

    /// A copy of `source` in memory, still named by its file: changed without touching the file.
    init(memoryCopyOf source: SQLiteDatabase) throws {
        path = source.path
        try open(":memory:", flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX)
        guard let backup = sqlite3_backup_init(handle, "main", source.handle, "main") else { throw error("cannot copy the database") }
        sqlite3_backup_step(backup, -1)
        guard sqlite3_backup_finish(backup) == SQLITE_OK else { throw error("cannot copy the database") }
    }

    private func open(_ name: String, flags: Int32) throws {
        let status = sqlite3_open_v2(name, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            handle = nil
            throw StoreError.sqlite(path: path, message: "cannot open the database: \(message)")
        }
        sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds)
    }

    /// Whether the last failure was SQLite finding no way to create the files a write-ahead-log
    /// database is read through (`-shm`, `-wal`): the folder is read-only to this user.
    var lastErrorWasReadOnlyFolder: Bool {
        let code = sqlite3_extended_errcode(handle)
        // SQLITE_READONLY_DIRECTORY, a macro Swift does not import: no write access to the folder.
        // SQLITE_CANTOPEN: a read-only file system.
        return code == SQLITE_READONLY | (6 << 8) || code & 0xFF == SQLITE_CANTOPEN
    }

    deinit { sqlite3_close(handle) }

    private func error(_ what: String) -> StoreError {
        .sqlite(path: path, message: "\(what): \(String(cString: sqlite3_errmsg(handle)))")
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw StoreError.sqlite(path: path, message: text)
        }
    }

    /// Runs one statement with `parameters` bound to its `?` placeholders and returns every row.
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLBindable] = []) throws -> [[SQLValue]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw error("cannot prepare \(sql.prefix(60))") }
        defer { sqlite3_finalize(statement) }
        for (i, parameter) in parameters.enumerated() {
            let index = Int32(i + 1)
            let status: Int32
            switch parameter.sqlValue {
            case .null: status = sqlite3_bind_null(statement, index)
            case let .integer(v): status = sqlite3_bind_int64(statement, index, v)
            case let .real(v): status = sqlite3_bind_double(statement, index, v)
            case let .text(v): status = sqlite3_bind_text(statement, index, v, -1, SQLiteDatabase.transient)
            }
            guard status == SQLITE_OK else { throw error("cannot bind parameter \(index)") }
        }
        var rows: [[SQLValue]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw error("cannot run \(sql.prefix(60))") }
            let columns = sqlite3_column_count(statement)
            rows.append((0..<columns).map { c in
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, c))
                case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, c))
                case SQLITE_NULL: return .null
                default: return .text(String(cString: sqlite3_column_text(statement, c)))
                }
            })
        }
        return rows
    }

    /// Switches the file to write-ahead-log journaling (kept in the file: once done, a no-op). The
    /// switch takes an exclusive lock that SQLite does not wait for, whatever the busy timeout, so
    /// while another connection holds the file (another process opening the same new database)
    /// it is tried again, for as long as the busy timeout.
    func useWriteAheadLog() throws {
        let deadline = Date().addingTimeInterval(Double(Self.busyTimeoutMilliseconds) / 1000)
        while true {
            do {
                try execute("PRAGMA journal_mode=WAL")
                return
            } catch where sqlite3_errcode(handle) == SQLITE_BUSY && Date() < deadline {
                usleep(5_000)
            }
        }
    }

    public var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last INSERT, UPDATE or DELETE (0 when `INSERT OR IGNORE` ignored the row).
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
