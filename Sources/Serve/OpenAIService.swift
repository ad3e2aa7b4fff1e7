import Bench
import Foundation
import Inference

/// The OpenAI-compatible API over one native engine: `GET /v1/models`, `POST /v1/completions` and
/// `/v1/chat/completions` (streamed or whole), `POST /tokenize` and `/detokenize` (llama.cpp's
/// bodies), `GET /health`. Generation is serialized (one sequence at a time on the CPU) behind a
/// bounded queue: a request that finds `queueLimit` others waiting gets 503. Decoding is always
/// greedy; `temperature` and other sampling fields are accepted and ignored.
public final class OpenAIService: @unchecked Sendable {
    let engine: NativeEngine
    let tokenizer: Tokenizer
    /// The template chat requests are rendered in; nil: chat is refused (a base model without one).
    let template: ChatTemplate?
    public let modelID: String
    let queueLimit: Int
    let created = Int(Date().timeIntervalSince1970)
    private let generation = DispatchQueue(label: "lmbench.serve.generation")
    private let lock = NSLock()
    /// Requests waiting for or holding the generation queue.
    private var admitted = 0
    private var requestCount = 0

    /// The largest `max_tokens` a request may ask for.
    static let maxTokensLimit = 1 << 20

    public init(engine: NativeEngine, template: ChatTemplate?, modelID: String, queueLimit: Int) {
        self.engine = engine
        tokenizer = engine.tokenizer
        self.template = template
        self.modelID = modelID
        self.queueLimit = queueLimit
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let routes: [String: (method: String, handle: (HTTPRequest) throws -> HTTPResponse)] = [
            "/health": ("GET", { _ in Self.json(["status": "ok"]) }),
            "/v1/models": ("GET", { _ in self.models() }),
            "/v1/completions": ("POST", { try self.completion($0, chat: false) }),
            "/v1/chat/completions": ("POST", { try self.completion($0, chat: true) }),
            "/tokenize": ("POST", { try self.tokenize($0) }),
            "/detokenize": ("POST", { try self.detokenize($0) }),
        ]
        guard let route = routes[request.path] else { return .error(404, "no route for \(request.method) \(request.path.prefix(100))", type: "not_found_error") }
        guard route.method == request.method else { return .error(405, "\(request.path) takes \(route.method), not \(request.method.prefix(20))") }
        do {
            return try route.handle(request)
        } catch let error as RequestError {
            return .error(error.status, error.message, type: error.type)
        } catch {
            return .error(500, "\(error)", type: "server_error")
        }
    }

    // MARK: - Routes

    private func models() -> HTTPResponse {
        var meta: [String: Any] = ["engine": engine.record.label, "strategy": engine.record.strategy, "parameters": engine.record.parameters,
                                   "n_ctx_train": engine.trainedContextLength, "n_vocab": engine.vocabularySize,
                                   "chat_template": template?.name ?? "none"]
        meta["lmbench_version"] = Provenance.version()
        return Self.json(["object": "list", "data": [["id": modelID, "object": "model", "created": created, "owned_by": "lmbench", "meta": meta]]])
    }

    private func tokenize(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try Self.decode(TokenizeBody.self, request.body)
        guard let text = body.content ?? body.prompt else { throw RequestError(400, "missing field content (the text to tokenize)") }
        let tokens = tokenizer.encode(text, addSpecial: body.add_special ?? body.add_special_tokens ?? false, parseSpecial: body.parse_special ?? true)
        return Self.json(["tokens": tokens.map(Int.init)])
    }

    private func detokenize(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try Self.decode(DetokenizeBody.self, request.body)
        let ids = try body.tokens.map { try Self.tokenID($0) }
        return Self.json(["content": tokenizer.decode(ids, renderSpecial: true)])
    }

    private func completion(_ request: HTTPRequest, chat: Bool) throws -> HTTPResponse {
        let body = try Self.decode(CompletionBody.self, request.body)
        let tokens: [Int32]
        if chat {
            guard let messages = body.messages else { throw RequestError(400, "missing field messages") }
            tokens = try chatPrompt(messages)
        } else {
            guard let prompt = body.prompt else { throw RequestError(400, "missing field prompt") }
            switch prompt {
            // llama.cpp's reading of a text prompt: BOS added, control tokens written in it parsed.
            case let .text(text): tokens = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
            case let .tokens(ids): tokens = try ids.map { try Self.tokenID($0) }
            }
        }
        guard !tokens.isEmpty else { throw RequestError(400, "the prompt is empty") }
        let maxTokens = body.max_tokens ?? body.max_completion_tokens ?? 16
        guard (0...Self.maxTokensLimit).contains(maxTokens) else { throw RequestError(400, "max_tokens must be from 0 to \(Self.maxTokensLimit), not \(maxTokens)") }
        let stops = body.stop?.strings ?? []
        let includeUsage = body.stream_options?.include_usage ?? false
        let id = lock.withLock { () -> String in requestCount += 1; return (chat ? "chatcmpl-" : "cmpl-") + String(requestCount) }
        guard admit() else {
            throw RequestError(503, "the generation queue is full (\(queueLimit) waiting): try again later", type: "server_busy")
        }
        let reply = Reply(id: id, chat: chat, model: modelID, created: Int(Date().timeIntervalSince1970))
        guard body.stream == true else {
            defer { release() }
            let completion = try generation.sync { try generate(tokens, maxTokens: maxTokens, stops: stops, onOutput: nil) }
            return Self.json(reply.whole(completion))
        }
        return .events { stream in
            defer { self.release() }
            let emitter = StreamEmitter(stream: stream, reply: reply, holdBack: max(0, (stops.map(\.utf8.count).max() ?? 0) - 1))
            if chat { stream.send(Self.text(reply.chunk(role: "assistant", text: "", finish: nil))) }
            do {
                let completion = try self.generation.sync {
                    try self.generate(tokens, maxTokens: maxTokens, stops: stops) { emitter.emit($0) }
                }
                emitter.finish(completion.result.text)
                stream.send(Self.text(reply.chunk(role: nil, text: nil, finish: Reply.finishReason(completion.result.stopReason))))
                if includeUsage { stream.send(Self.text(reply.usageChunk(completion))) }
            } catch let error as RequestError {
                stream.send(Self.text(["error": ["message": error.message, "type": error.type, "code": error.status]]))
            } catch {
                stream.send(Self.text(["error": ["message": "\(error)", "type": "server_error", "code": 500]]))
            }
            stream.send("[DONE]")
        }
    }

    /// One generation on the queue's thread; a prompt the model cannot take is the request's fault.
    private func generate(_ tokens: [Int32], maxTokens: Int, stops: [String],
                          onOutput: (@Sendable ([UInt8]) -> Bool)?) throws -> NativeEngine.Completion {
        do {
            return try engine.complete(tokens, maxNewTokens: maxTokens, stopTokens: template?.stopTokens(in: tokenizer), stopStrings: stops,
                                       onOutput: onOutput)
        } catch let error as ModelError {
            throw RequestError(400, error.description)
        }
    }

    /// The chat's tokens in the template: an optional system message, one user turn, and an
    /// optional final assistant message that the reply continues (an answer prefix).
    private func chatPrompt(_ messages: [ChatMessage]) throws -> [Int32] {
        guard let template else {
            throw RequestError(400, "the model has no chat template: use /v1/completions, or start lmbench serve with --chat-template NAME")
        }
        var rest = messages[...]
        var system: String?
        if rest.first?.role == "system" { system = rest.removeFirst().content.text }
        var prefix = ""
        if rest.last?.role == "assistant" { prefix = rest.removeLast().content.text }
        guard rest.count == 1, let user = rest.first, user.role == "user" else {
            throw RequestError(400, "messages must be one user turn, optionally after a system message and before an assistant prefix "
                               + "(roles given: \(messages.map(\.role).joined(separator: ", ")))")
        }
        return tokenizer.encode(template.beforeMessage(system: system), addSpecial: true, parseSpecial: true)
            + tokenizer.encode(template.message(user.content.text), addSpecial: false, parseSpecial: false)
            + tokenizer.encode(template.generationPrompt, addSpecial: false, parseSpecial: true)
            + tokenizer.encode(prefix, addSpecial: false, parseSpecial: false)
    }

    private func admit() -> Bool {
        lock.withLock {
            guard admitted <= queueLimit else { return false }
            admitted += 1
            return true
        }
    }

    private func release() { lock.withLock { admitted -= 1 } }

    // MARK: - JSON

    static func tokenID(_ id: Int) throws -> Int32 {
        guard let token = Int32(exactly: id), token >= 0 else { throw RequestError(400, "token id \(id) is out of range") }
        return token
    }

    static func text(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
    }

    static func json(_ object: [String: Any]) -> HTTPResponse { .json(status: 200, body: Data(text(object).utf8)) }

    /// The body decoded strictly: malformed JSON and fields of the wrong type are 400s naming the field.
    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        guard (try? JSONSerialization.jsonObject(with: body)) is [String: Any] else {
            throw RequestError(400, body.isEmpty ? "the request has no body (expected a JSON object)" : "the body is not a JSON object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            throw RequestError(400, describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop { $0 == "." }.description
        }
        switch error {
        case let .typeMismatch(type, context):
            let names: [ObjectIdentifier: String] = [ObjectIdentifier(Int.self): "an integer", ObjectIdentifier(Double.self): "a number",
                                                     ObjectIdentifier(Bool.self): "true or false", ObjectIdentifier(String.self): "a string"]
            let expected = names[ObjectIdentifier(type)] ?? (context.debugDescription.hasPrefix("Expected") ? "\(type)" : context.debugDescription)
            return "field \(path(context)): expected \(expected)"
        case let .valueNotFound(_, context): return "field \(path(context)) is null"
        case let .keyNotFound(key, context): return "missing field \((path(context).isEmpty ? "" : path(context) + ".") + key.stringValue)"
        case let .dataCorrupted(context): return "field \(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// A request the service refuses, with its status.
struct RequestError: Error {
    let status: Int
    let message: String
    let type: String
    init(_ status: Int, _ message: String, type: String = "invalid_request_error") {
        self.status = status
        self.message = message
        self.type = type
    }
}

/// The response bodies of one completion request, whole or as stream chunks.
struct Reply {
    let id: String
    let chat: Bool
    let model: String
    let created: Int

    static func finishReason(_ reason: StopReason) -> String { reason == .maxTokens ? "length" : "stop" }

    private func envelope(_ choices: [[String: Any]], streamed: Bool) -> [String: Any] {
        ["id": id, "object": chat ? (streamed ? "chat.completion.chunk" : "chat.completion") : "text_completion", "created": created,
         "model": model, "choices": choices]
    }

    private func usage(_ c: NativeEngine.Completion) -> [String: Any] {
        ["prompt_tokens": c.promptTokens, "completion_tokens": c.result.tokens.count, "total_tokens": c.promptTokens + c.result.tokens.count]
    }

    func whole(_ c: NativeEngine.Completion) -> [String: Any] {
        let finish = Self.finishReason(c.result.stopReason)
        let choice: [String: Any] = chat
            ? ["index": 0, "message": ["role": "assistant", "content": c.result.text], "finish_reason": finish, "logprobs": NSNull()]
            : ["index": 0, "text": c.result.text, "finish_reason": finish, "logprobs": NSNull()]
        var object = envelope([choice], streamed: false)
        object["usage"] = usage(c)
        return object
    }

    func chunk(role: String?, text: String?, finish: String?) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": finish ?? NSNull(), "logprobs": NSNull()]
        if chat {
            var delta: [String: Any] = [:]
            if let role { delta["role"] = role }
            if let text { delta["content"] = text }
            choice["delta"] = delta
        } else {
            choice["text"] = text ?? ""
        }
        return envelope([choice], streamed: true)
    }

    func usageChunk(_ c: NativeEngine.Completion) -> [String: Any] {
        var object = envelope([], streamed: true)
        object["usage"] = usage(c)
        return object
    }
}

/// Streams a generation's text as it grows, holding back what could still turn out to be the start
/// of a stop string (the generator cuts the text there) or a partial UTF-8 character, so the
/// chunks joined are exactly the final text.
final class StreamEmitter: @unchecked Sendable {
    let stream: EventStream
    let reply: Reply
    let holdBack: Int
    private var emitted = 0

    init(stream: EventStream, reply: Reply, holdBack: Int) {
        self.stream = stream
        self.reply = reply
        self.holdBack = holdBack
    }

    /// False once the client has gone, which ends generation.
    func emit(_ output: [UInt8]) -> Bool {
        var end = output.count - holdBack
        while end > emitted, String(validating: output[emitted..<end], as: UTF8.self) == nil { end -= 1 }
        guard end > emitted else { return stream.isOpen }
        let piece = String(decoding: output[emitted..<end], as: UTF8.self)
        emitted = end
        return stream.send(OpenAIService.text(reply.chunk(role: nil, text: piece, finish: nil)))
    }

    func finish(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count > emitted else { return }
        stream.send(OpenAIService.text(reply.chunk(role: nil, text: String(decoding: bytes[emitted...], as: UTF8.self), finish: nil)))
    }
}

// MARK: - Request bodies

struct CompletionBody: Decodable {
    enum Prompt: Decodable {
        case text(String)
        case tokens([Int])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) { self = .text(text); return }
            if let ids = try? c.decode([Int].self) { self = .tokens(ids); return }
            if let texts = try? c.decode([String].self), texts.count == 1 { self = .text(texts[0]); return }
            throw DecodingError.typeMismatch(Prompt.self, .init(codingPath: decoder.codingPath, debugDescription: "a string or a list of token ids"))
        }
    }

    struct Stop: Decodable {
        var strings: [String]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { strings = [one]; return }
            if let many = try? c.decode([String].self) { strings = many; return }
            throw DecodingError.typeMismatch(Stop.self, .init(codingPath: decoder.codingPath, debugDescription: "a string or a list of strings"))
        }
    }

    struct StreamOptions: Decodable { var include_usage: Bool? }

    var model: String?
    var prompt: Prompt?
    var messages: [ChatMessage]?
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Double?
    var stream: Bool?
    var stream_options: StreamOptions?
    var stop: Stop?
}

struct ChatMessage: Decodable {
    /// A message's content: text, or a list of parts of which the text parts are joined.
    struct Content: Decodable {
        struct Part: Decodable { var type: String; var text: String? }
        var text: String
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) { self.text = text; return }
            if let parts = try? c.decode([Part].self) { text = parts.compactMap(\.text).joined(); return }
            throw DecodingError.typeMismatch(Content.self, .init(codingPath: decoder.codingPath, debugDescription: "a string or a list of text parts"))
        }
    }
    var role: String
    var content: Content
}

struct TokenizeBody: Decodable {
    var content: String?
    var prompt: String?
    var add_special: Bool?
    var add_special_tokens: Bool?
    var parse_special: Bool?
}

struct DetokenizeBody: Decodable { var tokens: [Int] }
