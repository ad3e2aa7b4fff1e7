import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import CSQLite
import GGUFTestSupport

/// `lmbench serve` and the `openai` engine against each other: the server's API and its errors, the
/// official Python client against the server, and a run through the openai engine whose outputs
/// equal the native engine's on the same samples.
extension CLITests {
    /// A server process started for one test, its port read from its first line.
    final class ServerProcess {
        let process = Process()
        private(set) var port = 0

        /// Starts `command` and waits (up to `timeout` s) for `ready` to find the port in its stdout
        /// lines, or, when the port is known, for `ready` to say the server answers.
        init(_ command: [String], port knownPort: Int? = nil, timeout: Double = 120, ready: (ServerProcess, String?) -> Int?) throws {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            process.currentDirectoryURL = CLITests.packageRoot
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(timeout)
            if let knownPort {
                port = knownPort
                while Date() < deadline, process.isRunning {
                    if ready(self, nil) != nil { return }
                    Thread.sleep(forTimeInterval: 0.5)
                }
            } else {
                // The first line names the port; read it on a thread so a silent server cannot hang the test.
                let line = DispatchSemaphore(value: 0)
                var text = ""
                Thread {
                    var data = Data()
                    while !data.contains(UInt8(ascii: "\n")) {
                        let chunk = out.fileHandleForReading.availableData
                        if chunk.isEmpty { break }
                        data += chunk
                    }
                    text = String(decoding: data, as: UTF8.self)
                    line.signal()
                }.start()
                if line.wait(timeout: .now() + timeout) == .success, let found = ready(self, text) {
                    port = found
                    return
                }
            }
            stop()
            throw TestSetupError()
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    struct HTTPReply {
        let status: Int
        let body: Data
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request; status 0 when the server could not be reached.
    func http(_ url: String, _ body: Data? = nil, timeout: Double = 120) -> HTTPReply {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = timeout
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        var reply = HTTPReply(status: 0, body: Data())
        URLSession.shared.dataTask(with: request) { data, response, _ in
            reply = HTTPReply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data())
            done.signal()
        }.resume()
        done.wait()
        return reply
    }

    func http(_ url: String, json: [String: Any]) -> HTTPReply { http(url, try! JSONSerialization.data(withJSONObject: json)) }

    /// Rows of `engine, sample_key, status, output, error, prompt_tokens, ttft_ms, decode_tokens_per_second` by engine and key.
    func servedSamples(_ db: String) throws -> [String: [String?]] {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        let sql = "SELECT engine, sample_key, status, output, error, prompt_tokens, ttft_ms, decode_tokens_per_second, length FROM samples"
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_finalize(statement) }
        var rows: [String: [String?]] = [:]
        while sqlite3_step(statement) == SQLITE_ROW {
            let columns = (0..<9).map { i in sqlite3_column_text(statement, Int32(i)).map { String(cString: $0) } }
            let engine = columns[0]!.hasPrefix("openai") ? "openai" : columns[0]!
            rows[engine + " " + columns[1]!] = columns
        }
        return rows
    }

    static func portFromBanner(_ text: String?) -> Int? {
        guard let text, let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else { return nil }
        return Int(text[range].split(separator: ":")[1])
    }

    func testServeAPIAndOpenAIEngineAgainstIt() throws {
        try requireModel()
        let binary = Bundle.main.bundleURL.appendingPathComponent("lmbench").path
        let server = try ServerProcess([binary, "serve", "--model", CLITests.modelPath, "--port", "0", "--max-body-bytes", "4096",
                                        "--chat-template", "gemma"]) { _, line in CLITests.portFromBanner(line) }
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"

        XCTAssertEqual(http(base + "/health").json["status"] as? String, "ok")
        let models = http(base + "/v1/models").json["data"] as? [[String: Any]]
        let model = try XCTUnwrap(models?.first?["id"] as? String)
        XCTAssertEqual(model, "gemma-3-270m-q4_k_m")

        let whole = http(base + "/v1/completions", json: ["model": model, "prompt": "The capital of France is", "max_tokens": 8])
        XCTAssertEqual(whole.status, 200, whole.text)
        let choice = (whole.json["choices"] as? [[String: Any]])?.first
        let text = try XCTUnwrap(choice?["text"] as? String)
        XCTAssertEqual((whole.json["usage"] as? [String: Any])?["completion_tokens"] as? Int, 8)

        let streamed = http(base + "/v1/completions", json: ["model": model, "prompt": "The capital of France is", "max_tokens": 8, "stream": true])
        XCTAssertEqual(streamed.status, 200)
        let events = streamed.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(events.last, "data: [DONE]", streamed.text)
        let pieces = events.dropLast().compactMap { event -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]
            return ((object?["choices"] as? [[String: Any]])?.first?["text"] as? String)
        }
        XCTAssertEqual(pieces.joined(), text, "the streamed pieces join to the whole completion")
        XCTAssertGreaterThan(pieces.filter { !$0.isEmpty }.count, 1, "the text arrives in several events")

        let tokens = http(base + "/tokenize", json: ["content": "Hello world"]).json["tokens"] as? [Int]
        XCTAssertEqual(tokens?.count, 2)

        // Each bad request gets a JSON error, and the server goes on serving.
        func assertError(_ reply: HTTPReply, _ status: Int, _ contains: String, line: UInt = #line) {
            XCTAssertEqual(reply.status, status, reply.text, line: line)
            let message = (reply.json["error"] as? [String: Any])?["message"] as? String
            XCTAssertTrue(message?.contains(contains) == true, "expected \(contains.debugDescription) in \(reply.text)", line: line)
            XCTAssertEqual(http(base + "/health").status, 200, "the server still serves", line: line)
        }
        assertError(http(base + "/v1/completions", Data(#"{"prompt": "x", "#.utf8)), 400, "not a JSON object")
        assertError(http(base + "/v1/completions", json: ["prompt": "x", "max_tokens": "8"]), 400, "max_tokens: expected an integer")
        assertError(http(base + "/v1/completions", json: ["prompt": 3]), 400, "prompt")
        assertError(http(base + "/v1/completions", Data(repeating: UInt8(ascii: " "), count: 5000)), 413, "exceeds the limit of 4096 bytes")
        assertError(http(base + "/v1/nothing"), 404, "no route")
        assertError(http(base + "/v1/completions", json: ["prompt": [999_999_999], "max_tokens": 1]), 400, "999999999")
        // A client that sends half a request and goes silent gets 408 after the read timeout, while others are served.
        let silent = try rawConnection(port: server.port)
        defer { close(silent) }
        _ = "POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{".withCString { send(silent, $0, strlen($0), 0) }
        XCTAssertEqual(http(base + "/health").status, 200, "a stalled client does not block others")

        try runPythonClient(base: base)

        // The openai engine through the server on the same samples as the native engine, both of its
        // requests in flight at once: equal outputs; a prompt whose request body is over the server's
        // limit is that sample's error.
        let dir = try makeTemporaryDirectory("serve")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("r.sqlite").path
        let run = try lmbench(["run", "passkey", "--lengths", "256,1k", "--samples", "1", "--chat-template", "none", "--db", db,
                               "--engines", "openai:url=\(base)/v1:model=\(model):concurrency=2,full"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try servedSamples(db)
        let served = try XCTUnwrap(rows["openai passkey/256/uniform/0"]), native = try XCTUnwrap(rows["full passkey/256/uniform/0"])
        XCTAssertEqual(served[2], "ok", "\(served)")
        XCTAssertEqual(served[3], native[3], "the served output equals the native engine's")
        XCTAssertEqual(served[5], native[5], "the same prompt tokens")
        XCTAssertNotNil(served[6].flatMap(Double.init), "TTFT measured from the stream")
        XCTAssertNotNil(served[7].flatMap(Double.init), "decode rate measured from the stream")
        let tooBig = try XCTUnwrap(rows["openai passkey/1024/uniform/0"])
        XCTAssertEqual(tooBig[2], "error")
        XCTAssertTrue(tooBig[4]?.contains("HTTP 413") == true, "\(tooBig)")
        XCTAssertEqual(rows["full passkey/1024/uniform/0"]?[2], "ok", "the run went on after the error")
    }

    func rawConnection(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestSetupError() }
        return fd
    }

    /// Whether `python3` imports `module`.
    func pythonHas(_ module: String) throws -> Bool {
        try command(["/usr/bin/env", "python3", "-c", "import \(module)"]).status == 0
    }

    /// scripts/test-openai-client.py against the server. Without the `openai` package the check
    /// is left out, except in CI (`CI` set), where that is a failure: .ci/run installs it.
    func runPythonClient(base: String) throws {
        guard try pythonHas("openai") else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("the openai Python package is missing in CI (.ci/run installs it with pip)")
            } else {
                print("note: python3 cannot import openai (pip install openai): scripts/test-openai-client.py not run")
            }
            return
        }
        let run = try command(["/usr/bin/env", "python3", CLITests.packageRoot.appendingPathComponent("scripts/test-openai-client.py").path, base + "/v1"])
        XCTAssertEqual(run.status, 0, run.stderr + run.stdout)
        XCTAssertTrue(run.stdout.contains("test-openai-client: ok"), run.stdout)
    }
}
