import Foundation

/// A JSON Lines data file (LongBench's format): one JSON object per non-blank line. A line that is
/// not one, or a field of the wrong type or out of range, is an error naming `FILE:LINE`, the field
/// and what is wrong, found when the file is loaded (as lm-evaluation-harness fails on a bad
/// dataset before it evaluates anything), so a run never starts on data it would misread.
struct JSONLines {
    /// One line's object, with field readers whose errors name the file, the line and the field.
    struct Record {
        let path: String
        let line: Int
        let object: [String: Any]

        func error(_ why: String) -> TaskError { TaskError("\(path):\(line): \(why)") }

        /// The field's value, nil when it is absent or null.
        private func value(_ key: String) -> Any? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            return value
        }

        private func wrongType(_ key: String, _ value: Any, expected: String) -> TaskError {
            error("field '\(key)' is \(JSONLines.kind(of: value)), not \(expected)")
        }

        func string(_ key: String) throws -> String? {
            guard let value = value(key) else { return nil }
            guard let string = value as? String else { throw wrongType(key, value, expected: "a string") }
            return string
        }

        func strings(_ key: String) throws -> [String]? {
            guard let value = value(key) else { return nil }
            guard let list = value as? [Any] else { throw wrongType(key, value, expected: "a list of strings") }
            return try list.enumerated().map { i, element in
                guard let string = element as? String else {
                    throw error("field '\(key)' has \(JSONLines.kind(of: element)) at index \(i), not a string")
                }
                return string
            }
        }

        /// A string, or a number as its JSON text (InfiniteBench's numeric ids and labels); nil when
        /// absent or null.
        func text(_ key: String) throws -> String? {
            guard let value = value(key) else { return nil }
            guard let text = JSONLines.text(of: value) else { throw wrongType(key, value, expected: "a string or a number") }
            return text
        }

        /// A string or a number as a one-element list, or a list of strings and numbers; a list whose
        /// only element is such a list is read as that list (InfiniteBench's math_calc labels may be
        /// nested once). Nil when absent or null.
        func texts(_ key: String) throws -> [String]? {
            guard let value = value(key) else { return nil }
            if let text = JSONLines.text(of: value) { return [text] }
            guard var list = value as? [Any] else { throw wrongType(key, value, expected: "a string, a number or a list of them") }
            if list.count == 1, let inner = list[0] as? [Any] { list = inner }
            return try list.enumerated().map { i, element in
                guard let text = JSONLines.text(of: element) else {
                    throw error("field '\(key)' has \(JSONLines.kind(of: element)) at index \(i), not a string or a number")
                }
                return text
            }
        }

        /// The field's value as text when it is a string or a number, nil for any other kind.
        func plainText(_ key: String) -> String? { value(key).flatMap(JSONLines.text(of:)) }

        /// An integer in `range`: a bool, a fraction, a number beyond `Int` or one outside the range
        /// is an error, never a wrapped or rounded value.
        func integer(_ key: String, in range: ClosedRange<Int>, _ rangeMeaning: @autoclosure () -> String) throws -> Int? {
            guard let value = value(key) else { return nil }
            guard !JSONLines.isBool(value), value is NSNumber, let n = value as? Int else {
                throw wrongType(key, value, expected: "an integer")
            }
            guard range.contains(n) else {
                throw error("field '\(key)' is \(n), not in \(range.lowerBound)…\(range.upperBound) (\(rangeMeaning()))")
            }
            return n
        }
    }

    /// Every record of the file at `path`, in line order; blank lines are skipped.
    static func records(in path: String) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the data file") }
        var records: [Record] = []
        for (index, bytes) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            func bad(_ why: String) -> TaskError { TaskError("\(path):\(index + 1): \(why)") }
            if let offset = firstInvalidUTF8(bytes) { throw bad("byte \(offset + 1) of the line is not UTF-8 (JSON text must be)") }
            let parsed: Any
            do {
                parsed = try JSONSerialization.jsonObject(with: Data(bytes))
            } catch {
                // Foundation's description quotes the bytes it stopped at, NULs and all.
                throw bad("not valid JSON (\(quoted((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")))")
            }
            guard let object = parsed as? [String: Any] else { throw bad("\(kind(of: parsed)), not a JSON object") }
            records.append(Record(path: path, line: index + 1, object: object))
        }
        return records
    }

    /// Offset of the first byte that does not belong to a valid UTF-8 sequence, or nil.
    static func firstInvalidUTF8<Bytes: Collection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    /// Whether a parsed value is JSON's `true` or `false`. Foundation bridges the numbers 0 and 1 to
    /// `Bool` as well, so only the boolean's own class tells them apart.
    static func isBool(_ value: Any) -> Bool {
        (value as? NSNumber).map { type(of: $0) == type(of: NSNumber(value: true)) } ?? false
    }

    /// A string as it is, a number as JSON writes it (`42`, `2.5`); nil for anything else (a bool is
    /// not a number here).
    static func text(of value: Any) -> String? {
        if let string = value as? String { return string }
        guard !isBool(value), let number = value as? NSNumber else { return nil }
        return number.stringValue
    }

    /// A JSON value's kind as an error message names it.
    static func kind(of value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let b as NSNumber where isBool(b): return b.boolValue ? "true" : "false"
        case let n as NSNumber: return "the number \(n)"
        case is String: return "a string"
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }
}
