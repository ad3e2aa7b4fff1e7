import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A failed exchange with an OpenAI-compatible server, as one line naming the request. `retryable`
/// for what may pass on its own (429, 5xx, a dropped connection); a 4xx is the request's own fault.
public struct OpenAIError: Error, CustomStringConvertible {
    public let description: String
    public let retryable: Bool
    /// Seconds the server asked the client to wait (`Retry-After`).
    public let retryAfter: Double?

    init(_ description: String, retryable: Bool = false, retryAfter: Double? = nil) {
        self.description = description
        self.retryable = retryable
        self.retryAfter = retryAfter
    }
}

/// Synchronous JSON and server-sent-event exchanges over one URLSession, with timeouts and retries
/// (exponential backoff on 429, 5xx and connection errors). The API key is sent as a bearer token and
/// never appears in an error or a record.
final class OpenAIClient: @unchecked Sendable {
    /// The API's base (`http://host:port/v1`) and the server's root (the base without `/v1`), where
    /// llama.cpp and vLLM answer `/tokenize`.
    let base: URL
    let root: URL
    let timeout: Double
    let retries: Int
    private let apiKey: String?
    private let session: URLSession
    private let router = ExchangeRouter()

    init(base: URL, apiKey: String?, timeout: Double, retries: Int) {
        self.base = base
        var rootText = base.absoluteString
        while rootText.hasSuffix("/") { rootText.removeLast() }
        if rootText.hasSuffix("/v1") { rootText.removeLast(3) }
        root = URL(string: rootText)!
        self.apiKey = apiKey
        self.timeout = timeout
        self.retries = retries
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpMaximumConnectionsPerHost = 64
        session = URLSession(configuration: configuration, delegate: router, delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    /// What a JSON exchange returned: the decoded body and the response's headers.
    struct Reply {
        var json: Any
        var headers: [String: String]
    }

    /// GET (body nil) or POST of a JSON body; the decoded JSON reply.
    func json(_ url: URL, body: [String: Any]? = nil, timeLimit: Double? = nil) throws -> Reply {
        try withRetries(url) {
            let exchange = try perform(request(url, body: body, timeLimit: timeLimit), onData: nil)
            guard let json = try? JSONSerialization.jsonObject(with: exchange.body, options: [.fragmentsAllowed]) else {
                throw OpenAIError("\(describe(url)): the reply is not JSON (\(exchange.body.count) bytes)")
            }
            return Reply(json: json, headers: exchange.headers)
        }
    }

    /// POSTs a streaming request and hands `onEvent` each `data:` payload of the event stream, up to
    /// `[DONE]`. A request is retried only while no event has arrived.
    func stream(_ url: URL, body: [String: Any], timeLimit: Double?, onEvent: @escaping (String) throws -> Void) throws {
        try withRetries(url) {
            var parser = EventStreamParser()
            var failure: Error?
            var finished = false
            _ = try perform(request(url, body: body, timeLimit: timeLimit), onData: { data in
                guard failure == nil, !finished else { return }
                do {
                    for payload in parser.feed(data) {
                        if payload == "[DONE]" { finished = true; return }
                        try onEvent(payload)
                    }
                } catch {
                    failure = error
                }
            })
            if let failure { throw failure }
        }
    }

    private func request(_ url: URL, body: [String: Any]?, timeLimit: Double?) throws -> URLRequest {
        var request = URLRequest(url: url)
        request.timeoutInterval = min(timeout, timeLimit ?? timeout)
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        }
        return request
    }

    /// The URL as errors name it (scheme, host, port and path: never a query or credentials).
    func describe(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.user = nil
        components?.password = nil
        components?.query = nil
        return components?.string ?? url.path
    }

    private func withRetries<T>(_ url: URL, _ attempt: () throws -> T) throws -> T {
        var delay = 0.5
        for tryNumber in 0... {
            do {
                return try attempt()
            } catch let error as OpenAIError where error.retryable && tryNumber < retries {
                Thread.sleep(forTimeInterval: min(30, error.retryAfter ?? delay))
                delay *= 2
            }
        }
        fatalError("unreachable")
    }

    /// One exchange: a 2xx reply's body, streamed to `onData` when given; a non-2xx status or a
    /// transport failure as an `OpenAIError`.
    private func perform(_ request: URLRequest, onData: ((Data) -> Void)?) throws -> Exchange {
        let url = request.url!
        let exchange = Exchange(onData: onData)
        let task = session.dataTask(with: request)
        router.register(exchange, for: task)
        task.resume()
        exchange.done.wait()
        router.unregister(task)
        if let error = exchange.error {
            let code = (error as? URLError)?.code
            let what = code == .timedOut ? "timed out after \(Int(request.timeoutInterval)) s" : error.localizedDescription
            throw OpenAIError("\(request.httpMethod ?? "GET") \(describe(url)): \(what)", retryable: code != .timedOut && code != .cancelled)
        }
        let status = exchange.status
        guard (200..<300).contains(status) else {
            let message = Self.errorMessage(exchange.body)
            let retryAfter = exchange.headers["retry-after"].flatMap(Double.init)
            throw OpenAIError("\(request.httpMethod ?? "GET") \(describe(url)): HTTP \(status)\(message.map { ": " + $0 } ?? "")",
                              retryable: status == 429 || status >= 500, retryAfter: retryAfter)
        }
        return exchange
    }

    /// The message of an OpenAI-style error body (`{"error": {"message": ...}}`, or `{"detail": ...}`
    /// from FastAPI servers), on one line.
    static func errorMessage(_ body: Data) -> String? {
        let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        let object = json as? [String: Any]
        var message: String?
        if let error = object?["error"] as? [String: Any] { message = error["message"] as? String }
        else if let error = object?["error"] as? String { message = error }
        else if let detail = object?["detail"] { message = (detail as? String) ?? "\(detail)" }
        else if !body.isEmpty { message = String(decoding: body.prefix(200), as: UTF8.self) }
        return message?.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// One request's state, filled by the session's delegate.
final class Exchange: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    let onData: ((Data) -> Void)?
    var status = 0
    var headers: [String: String] = [:]
    var body = Data()
    var error: Error?

    init(onData: ((Data) -> Void)?) { self.onData = onData }
}

/// The session's delegate: hands each task's events to its exchange.
final class ExchangeRouter: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    func register(_ exchange: Exchange, for task: URLSessionTask) { lock.withLock { exchanges[task.taskIdentifier] = exchange } }
    func unregister(_ task: URLSessionTask) { _ = lock.withLock { exchanges.removeValue(forKey: task.taskIdentifier) } }
    private func exchange(_ task: URLSessionTask) -> Exchange? { lock.withLock { exchanges[task.taskIdentifier] } }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let exchange = exchange(dataTask), let http = response as? HTTPURLResponse {
            exchange.status = http.statusCode
            for (key, value) in http.allHeaderFields { exchange.headers["\(key)".lowercased()] = "\(value)" }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let exchange = exchange(dataTask) else { return }
        if (200..<300).contains(exchange.status), let onData = exchange.onData { onData(data) } else { exchange.body.append(data) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let exchange = exchange(task) else { return }
        exchange.error = error
        exchange.done.signal()
    }
}

/// Splits a server-sent event stream into its `data:` payloads, one per line (as OpenAI-compatible
/// servers write them), whatever the chunking of the bytes.
struct EventStreamParser {
    private var pending: [UInt8] = []

    mutating func feed(_ data: Data) -> [String] {
        pending += data
        var payloads: [String] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending[..<newline]
            pending.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard line.starts(with: Array("data:".utf8)) else { continue }
            var payload = line.dropFirst(5)
            if payload.first == UInt8(ascii: " ") { payload = payload.dropFirst() }
            payloads.append(String(decoding: payload, as: UTF8.self))
        }
        return payloads
    }
}
