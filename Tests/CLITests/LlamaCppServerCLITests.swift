import XCTest
import Foundation
import CSQLite
import GGUFTestSupport

/// The `openai` engine against a real peer: llama.cpp's server (llama-cpp-python's
/// `llama_cpp.server`, which .ci/run installs) serving the same Gemma 3 file. Prompts are sized
/// with the local GGUF's tokenizer and sent as text (that server takes no token ids), answers are
/// scored, and time to first token and the decode rate come from the stream.
extension CLITests {
    /// A port on 127.0.0.1 that nothing listens on now.
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestSetupError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func testOpenAIEngineAgainstLlamaCppServer() throws {
        try requireModel()
        guard try pythonHas("llama_cpp.server") else {
            // Outside CI the peer may be missing; CI installs it, and there its absence is a failure.
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("llama-cpp-python[server] is missing in CI (.ci/run installs it with pip)")
            } else {
                print("note: python3 cannot import llama_cpp.server (pip install 'llama-cpp-python[server]'): test not run")
            }
            return
        }
        let port = try freePort()
        let base = "http://127.0.0.1:\(port)"
        let server = try ServerProcess(["/usr/bin/env", "python3", "-m", "llama_cpp.server", "--model", CLITests.modelPath,
                                        "--host", "127.0.0.1", "--port", "\(port)", "--n_ctx", "2048", "--n_threads", "2",
                                        "--model_alias", "gemma"], port: port, timeout: 180) { _, _ in
            self.http(base + "/v1/models", timeout: 5).status == 200 ? port : nil
        }
        defer { server.stop() }

        let dir = try makeTemporaryDirectory("llama-cpp-server")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("r.sqlite").path
        let run = try lmbench(["run", "passkey", "--lengths", "512", "--samples", "2", "--chat-template", "none", "--db", db,
                               "--engines", "openai:url=\(base)/v1:model=gemma:tokenizer=\(CLITests.modelPath):prompt=text"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try servedSamples(db)
        XCTAssertEqual(rows.count, 2, "\(rows)")
        for (key, row) in rows {
            XCTAssertEqual(row[2], "ok", "\(key): \(row)")
            let promptTokens = try XCTUnwrap(row[5].flatMap(Int.init))
            XCTAssertLessThanOrEqual(promptTokens, 512, key)
            XCTAssertGreaterThan(promptTokens, 512 - 30, "\(key): sized in the model's tokens, one filler sentence of slack")
            XCTAssertGreaterThan(row[6].flatMap(Double.init) ?? 0, 0, "\(key): TTFT measured from the stream")
            XCTAssertGreaterThan(row[7].flatMap(Double.init) ?? 0, 0, "\(key): decode rate measured from the stream")
            XCTAssertFalse(row[3]?.isEmpty ?? true, "\(key): an answer came back")
        }
        // The answers are scored: the first integer of each output against its key.
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, "SELECT score, expected, output FROM samples", -1, &statement, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_finalize(statement) }
        var right = 0
        while sqlite3_step(statement) == SQLITE_ROW {
            XCTAssertNotEqual(sqlite3_column_type(statement, 0), SQLITE_NULL)
            let score = sqlite3_column_double(statement, 0)
            let expected = String(cString: sqlite3_column_text(statement, 1)), output = String(cString: sqlite3_column_text(statement, 2))
            let key = expected.filter(\.isNumber)
            let firstRun = String(output.drop { !$0.isNumber }.prefix { $0.isNumber })
            XCTAssertEqual(score, firstRun == key ? 1 : 0, "\(expected) vs \(output)")
            right += Int(score)
        }
        XCTAssertGreaterThan(right, 0, "Gemma 3 270M finds a passkey in 512 tokens through llama.cpp's server")
    }
}
