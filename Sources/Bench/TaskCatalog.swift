import Foundation
import Inference

/// A problem with a task definition or a data file, naming the file (and line).
public struct TaskError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One task file: `tasks/NAME.json`, or `NAME.json` in one of the catalog's task folders. The
/// catalog reads the fields every task has (`generator`, `description`, `defaults`); the generator
/// decodes the rest itself.
public struct TaskFile: Sendable {
    public let name: String
    public let path: String
    public let generator: String
    public let description: String?
    /// Default command-line values: lengths, depths, samples.
    public let defaults: [String: String]
    let json: Data

    struct Common: Decodable {
        var generator: String
        var description: String?
        var defaults: [String: String]?
    }

    init(name: String, path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the task file") }
        let common = try Self.decode(Common.self, from: data, path: path)
        self.name = name
        self.path = path
        generator = common.generator
        description = common.description
        defaults = common.defaults ?? [:]
        json = data
    }

    /// The file as a generator's own configuration; errors name the file and the field.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try Self.decode(type, from: json, path: path) }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw TaskError("\(path): missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw TaskError("\(path): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw TaskError("\(path): \(field.isEmpty ? "not valid JSON" : "field '\(field)' has a bad value")")
        }
    }
}

/// Code that builds a task from its file: registered by name in `TaskGenerators`, it decodes its
/// own configuration from the file, so no shared struct holds every generator's fields.
public protocol TaskGenerator {
    /// The `generator` value of the task files it serves.
    static var name: String { get }
    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask
}

/// The task files of a `tasks/` folder: `NAME.json`, `longbench/NAME.json`, `ruler/NAME.json` and
/// `infinitebench/NAME.json` define task NAME.
/// Suites (`lmbench nightly`) live in `suites/` and are not tasks.
public struct TaskCatalog {
    public let folder: String
    public let files: [String: TaskFile]
    /// Sub-folders whose files are tasks too.
    static let taskFolders = ["", "longbench", "ruler", "infinitebench"]

    public init(folder: String) throws {
        self.folder = folder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw TaskError("\(folder): task folder not found (run from the lmbench checkout, or pass --tasks DIR or set LMBENCH_TASKS)")
        }
        var files: [String: TaskFile] = [:]
        for sub in Self.taskFolders {
            let dir = sub.isEmpty ? folder : folder + "/" + sub
            for entry in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() where entry.hasSuffix(".json") {
                let name = String(entry.dropLast(5))
                let file = try TaskFile(name: name, path: dir + "/" + entry)
                // A suite left beside the tasks (where lmbench once kept them) is not a task.
                if file.generator == "suite" { continue }
                if let other = files[name] { throw TaskError("\(file.path): task '\(name)' is also defined by \(other.path)") }
                files[name] = file
            }
        }
        self.files = files
    }

    /// Task names a user can run.
    public var names: [String] { files.keys.sorted() }

    /// The files served by one generator, by name.
    public func files(generator: String) -> [TaskFile] { files.values.filter { $0.generator == generator }.sorted { $0.name < $1.name } }

    public var suitesFolder: String { folder + "/suites" }

    /// The task `name` for `request`, built for `tokenizer` by the generator its file names.
    public func make(_ name: String, request: TaskRequest, tokenizer: Tokenizer) throws -> BenchmarkTask {
        guard let file = files[name] else {
            throw TaskError("unknown task '\(name)' (tasks in \(folder): \(names.joined(separator: ", ")))")
        }
        return try TaskGenerators.generator(file).make(file, request: request, catalog: self, tokenizer: tokenizer)
    }
}
