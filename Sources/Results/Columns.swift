import Foundation

/// One stored field of a record: its column name, its SQL declaration, and how the record's value
/// becomes an `SQLValue` and back. A table is a list of these, so its CREATE, INSERT, SELECT and
/// export are all derived from one declaration and cannot drift apart.
public struct Column<Record> {
    public let name: String
    public let declaration: String
    /// The text holds JSON (an export writes it as a JSON value, not a string).
    public let isJSON: Bool
    let read: (Record) -> SQLValue
    let write: (inout Record, SQLValue, _ database: String) throws -> Void

    public func value(of record: Record) -> SQLValue { read(record) }

    public static func text(_ name: String, _ field: WritableKeyPath<Record, String>) -> Column {
        Column(name: name, declaration: "TEXT NOT NULL", isJSON: false, read: { .text($0[keyPath: field]) },
               write: { r, v, _ in r[keyPath: field] = v.string ?? "" })
    }

    public static func optionalText(_ name: String, _ field: WritableKeyPath<Record, String?>) -> Column {
        Column(name: name, declaration: "TEXT", isJSON: false, read: { $0[keyPath: field].sqlValue },
               write: { r, v, _ in r[keyPath: field] = v.string })
    }

    public static func integer(_ name: String, _ field: WritableKeyPath<Record, Int>) -> Column {
        Column(name: name, declaration: "INTEGER NOT NULL", isJSON: false, read: { .integer(Int64($0[keyPath: field])) },
               write: { r, v, _ in r[keyPath: field] = v.int ?? 0 })
    }

    public static func optionalInteger(_ name: String, _ field: WritableKeyPath<Record, Int?>) -> Column {
        Column(name: name, declaration: "INTEGER", isJSON: false, read: { $0[keyPath: field].sqlValue },
               write: { r, v, _ in r[keyPath: field] = v.int })
    }

    public static func optionalReal(_ name: String, _ field: WritableKeyPath<Record, Double?>) -> Column {
        Column(name: name, declaration: "REAL", isJSON: false, read: { $0[keyPath: field].sqlValue },
               write: { r, v, _ in r[keyPath: field] = v.double })
    }

    public static func flag(_ name: String, _ field: WritableKeyPath<Record, Bool>) -> Column {
        Column(name: name, declaration: "INTEGER NOT NULL", isJSON: false, read: { $0[keyPath: field].sqlValue },
               write: { r, v, _ in r[keyPath: field] = v.int == 1 })
    }

    /// An enumeration stored as its raw text; an unknown stored value reads as `fallback`.
    public static func choice<E: RawRepresentable>(_ name: String, _ field: WritableKeyPath<Record, E>,
                                                               fallback: E) -> Column where E.RawValue == String {
        Column(name: name, declaration: "TEXT NOT NULL", isJSON: false, read: { .text($0[keyPath: field].rawValue) },
               write: { r, v, _ in r[keyPath: field] = v.string.flatMap(E.init(rawValue:)) ?? fallback })
    }

    /// A value stored as sorted-key JSON text.
    public static func json<T: Codable>(_ name: String, _ field: WritableKeyPath<Record, T>) -> Column {
        Column(name: name, declaration: "TEXT NOT NULL", isJSON: true, read: { .text(JSONText.encode($0[keyPath: field])) },
               write: { r, v, database in r[keyPath: field] = try JSONText.decode(v.string, path: database) })
    }

    /// The same column with another SQL declaration (a default, a reference).
    public func declared(_ declaration: String) -> Column {
        Column(name: name, declaration: declaration, isJSON: isJSON, read: read, write: write)
    }
}

/// A table of records: its columns (after the `id INTEGER PRIMARY KEY` every table has) and
/// table constraints. Rows are read and written by name, never by position.
public struct Table<Record> {
    public let name: String
    public let columns: [Column<Record>]
    public let constraints: [String]
    let make: () -> Record

    public init(name: String, columns: [Column<Record>], constraints: [String] = [], make: @escaping () -> Record) {
        self.name = name
        self.columns = columns
        self.constraints = constraints
        self.make = make
    }

    public var createSQL: String {
        let lines = ["id INTEGER PRIMARY KEY"] + columns.map { "\($0.name) \($0.declaration)" } + constraints
        return "CREATE TABLE \(name) (\n    " + lines.joined(separator: ",\n    ") + "\n);"
    }

    /// The INSERT of every column; `orIgnore` leaves a row that would repeat a unique key alone.
    func insertSQL(orIgnore: Bool) -> String {
        "INSERT \(orIgnore ? "OR IGNORE " : "")INTO \(name) (\(columns.map(\.name).joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    }

    /// `id, col1, col2, …` for a SELECT whose rows `decode` reads.
    var selectList: String { (["id"] + columns.map(\.name)).joined(separator: ", ") }

    func values(_ record: Record) -> [SQLBindable] { columns.map { $0.read(record) } }

    /// A record from a row selected with `selectList`; returns the row id too.
    func decode(_ row: [SQLValue], database: String) throws -> (id: Int64, record: Record) {
        var record = make()
        for (column, value) in zip(columns, row.dropFirst()) { try column.write(&record, value, database) }
        return (Int64(row[0].int ?? 0), record)
    }
}

extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }

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
