import Bench
import Foundation
import Inference
import Serve

/// `lmbench serve`: an OpenAI-compatible HTTP server over the native engine with one strategy.
enum ServeCommand {
    static let usage = "lmbench serve [--model NAME|PATH] [--engine SPEC] [--port N] [--host ADDR] [--queue N] [--max-body-bytes N] [--read-timeout S] [--chat-template auto|none|NAME]"
    static let summary = """
        Serves the model over HTTP/1.1 with the OpenAI API: GET /v1/models, POST /v1/completions and
        /v1/chat/completions (streamed with "stream": true, or whole), POST /tokenize and /detokenize
        (llama.cpp's bodies), GET /health. Decoding is greedy whatever the request's sampling fields.
        One sequence is generated at a time; requests wait in a bounded queue and get 503 when it is
        full. Errors are JSON: {"error": {"message": ..., "type": ...}}. Binds 127.0.0.1 unless --host.
        Chat needs a chat template (the model's own with auto, or --chat-template NAME).
        """
    static let options: [CommandLineOptions.Option] = [
        ModelLocation.modelOption,
        .init(name: "engine", valueName: "SPEC", help: "The native strategy, as in --engines (default full; e.g. lm-infinite:n_local=4k)."),
        .init(name: "port", valueName: "N", help: "TCP port (default 8080; 0: any free port, printed)."),
        .init(name: "host", valueName: "ADDR", help: "IPv4 address to bind (default 127.0.0.1)."),
        .init(name: "queue", valueName: "N", help: "Requests that may wait for the generator before others get 503 (default 16)."),
        .init(name: "max-body-bytes", valueName: "N", help: "Largest request body; larger gets 413 (default 67108864)."),
        .init(name: "read-timeout", valueName: "S", help: "Seconds a client may take to send a request (default 10)."),
        .init(name: "chat-template", valueName: "auto|none|NAME",
              help: "Template for /v1/chat/completions (default auto: the model's own; names: \(ChatTemplates.names.joined(separator: ", ")))."),
        .init(name: "chunk-size", valueName: "N", help: "Prompt tokens per forward pass (default 512)."),
        ModelLocation.threadsOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "serve", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench serve: unexpected argument '\(o.positional[0])'") }
        let port = try o.int("port", default: 8080, in: 0...65535)
        let host = o.string("host") ?? "127.0.0.1"
        let queue = try o.int("queue", default: 16, in: 0...100_000)
        let maxBody = try o.int("max-body-bytes", default: 64 << 20, in: 1...(1 << 34))
        let readTimeout = try o.int("read-timeout", default: 10, in: 1...3600)
        let chunk = try o.int("chunk-size", default: 512, in: 16...65536)
        let choice: ChatTemplateChoice
        do { choice = try ChatTemplateChoice.parse(o.string("chat-template") ?? "auto") } catch let error as ChatTemplateError {
            throw UsageError(error.description)
        }
        let spec = try EngineSpec.parse(o.string("engine") ?? "full")
        guard try EngineKinds.kind(of: spec) == NativeEngine.self else {
            throw UsageError("lmbench serve: --engine takes a native strategy (\(NativeEngine.engineNames.joined(separator: ", "))), not \(spec.name)")
        }
        let loaded = try ModelLocation.load(o)
        let engine: NativeEngine
        do { engine = try NativeEngine(spec, generator: Generator(loaded, chunkSize: chunk)) } catch let error as StrategyError {
            throw SpecError("--engine: \(error.description)")
        }
        let template: ChatTemplate?
        do { template = try choice.resolve(modelTemplate: engine.modelChatTemplate) } catch let error as ChatTemplateError {
            throw UsageError(error.description)
        }
        let modelID = URL(fileURLWithPath: loaded.path).deletingPathExtension().lastPathComponent
        let service = OpenAIService(engine: engine, template: template, modelID: modelID, queueLimit: queue)
        let server: HTTPServer
        do {
            server = try HTTPServer(host: host, port: port, limits: .init(maxBodyBytes: maxBody, readTimeout: Double(readTimeout))) { service.handle($0) }
        } catch let error as ServeError {
            throw CommandError("serve: \(error.description)")
        }
        print("lmbench serve: listening on http://\(host):\(server.port)/v1 (model \(modelID), engine \(spec.label), chat template \(template?.name ?? "none"))")
        server.serve()
    }
}
