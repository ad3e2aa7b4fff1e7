import CSQLite
import Foundation

/// A failure of the results store, naming the database file.
public enum StoreError: Error, CustomStringConvertible {
    case sqlite(path: String, message: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case noSuchRun(path: String, id: Int64)
    case empty(path: String, what: String)

    public var description: String {
        switch self {
        case let .sqlite(path, message): return "\(path): \(message)"
        case let .newerSchema(path, found, supported):
            return "\(path): results schema version \(found) is newer than this lmbench understands (\(supported)); update lmbench"
        case let .noSuchRun(path, id): return "\(path): no run with id \(id)"
        case let .empty(path, what): return "\(path): \(what)"
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
    public let path: String
    private var handle: OpaquePointer?

    /// SQLite's own marker that a bound string must be copied before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    public init(path: String) throws {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            handle = nil
            throw StoreError.sqlite(path: path, message: "cannot open the database: \(message)")
        }
        // Another lmbench (a report while a run writes) may hold the lock briefly: wait for it.
        sqlite3_busy_timeout(handle, 10_000)
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
