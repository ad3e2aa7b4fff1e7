import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request as the server read it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The target's path, without its query.
    public var path: String
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: Data
}

/// What a handler answers: a whole JSON body, or a server-sent event stream it writes itself.
public enum HTTPResponse {
    case json(status: Int, body: Data)
    /// The stream's events are written by the closure; the connection closes after it returns.
    case events((EventStream) -> Void)

    /// An OpenAI-style error: `{"error": {"message": ..., "type": ..., "code": status}}`.
    public static func error(_ status: Int, _ message: String, type: String = "invalid_request_error") -> HTTPResponse {
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": status]]
        return .json(status: status, body: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }
}

/// The writing end of a server-sent event stream.
public final class EventStream {
    fileprivate let connection: Int32
    /// False once a write failed (the client has gone or stopped reading past the write timeout).
    public private(set) var isOpen = true

    fileprivate init(connection: Int32) { self.connection = connection }

    /// Writes `data: PAYLOAD\n\n`; false when the client is gone.
    @discardableResult
    public func send(_ payload: String) -> Bool {
        guard isOpen else { return false }
        isOpen = HTTPServer.write(Array("data: \(payload)\n\n".utf8), to: connection)
        return isOpen
    }
}

/// A small HTTP/1.1 server on POSIX sockets: one thread per connection (at most `maxConnections`),
/// keep-alive for whole responses, bodies by Content-Length up to `maxBodyBytes` (413 beyond), read
/// and write timeouts so a slow or silent client costs only its own thread. Errors are JSON
/// (`HTTPResponse.error`); the handler decides everything else.
public final class HTTPServer: @unchecked Sendable {
    public struct Limits: Sendable {
        public var maxBodyBytes: Int
        public var maxHeaderBytes = 16 * 1024
        public var maxConnections = 64
        /// Seconds a client may take to send a request, and an idle keep-alive connection is kept.
        public var readTimeout: Double
        /// Seconds one write may block on a client that does not read.
        public var writeTimeout: Double

        public init(maxBodyBytes: Int, readTimeout: Double = 10, writeTimeout: Double = 10) {
            self.maxBodyBytes = maxBodyBytes
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
        }
    }

    public let limits: Limits
    private let listener: Int32
    /// The port bound (the one asked for, or the system's choice for 0).
    public let port: Int
    private let handler: (HTTPRequest) -> HTTPResponse
    private let lock = NSLock()
    private var connections = 0

    /// Binds `host:port` (IPv4) and listens; `serve()` accepts.
    public init(host: String, port: Int, limits: Limits, handler: @escaping (HTTPRequest) -> HTTPResponse) throws {
        self.limits = limits
        self.handler = handler
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeError("socket(): \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw ServeError("--host: \(host) is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ServeError("cannot listen on \(host):\(port): \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts connections until the process ends.
    public func serve() -> Never {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let admitted = lock.withLock { () -> Bool in
                guard connections < limits.maxConnections else { return false }
                connections += 1
                return true
            }
            guard admitted else {
                setTimeouts(client)
                respond(client, .error(503, "too many connections (\(limits.maxConnections)); try again later", type: "server_busy"), keepAlive: false)
                close(client)
                continue
            }
            let thread = Thread { [self] in
                handle(client)
                close(client)
                lock.withLock { connections -= 1 }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func setTimeouts(_ fd: Int32) {
        func set(_ option: Int32, _ seconds: Double) {
            var t = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
            setsockopt(fd, SOL_SOCKET, option, &t, socklen_t(MemoryLayout<timeval>.size))
        }
        set(SO_RCVTIMEO, limits.readTimeout)
        set(SO_SNDTIMEO, limits.writeTimeout)
    }

    /// Requests on one connection until it closes, fails, idles past the read timeout or streams.
    private func handle(_ fd: Int32) {
        setTimeouts(fd)
        var buffer: [UInt8] = []
        while true {
            let request: HTTPRequest
            switch readRequest(fd, &buffer) {
            case .closed: return
            case let .failed(response):
                respond(fd, response, keepAlive: false)
                return
            case let .request(r): request = r
            }
            let keepAlive = request.headers["connection"]?.lowercased() != "close"
            switch handler(request) {
            case let .json(status, body):
                guard respond(fd, .json(status: status, body: body), keepAlive: keepAlive), keepAlive else { return }
            case let .events(write):
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nServer: lmbench\r\nConnection: close\r\n\r\n"
                guard Self.write(Array(head.utf8), to: fd) else { return }
                write(EventStream(connection: fd))
                return
            }
        }
    }

    private enum ReadOutcome {
        case request(HTTPRequest)
        /// The client closed, or sent nothing before the read timeout: nothing to answer.
        case closed
        case failed(HTTPResponse)
    }

    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> ReadOutcome {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            if let end = Self.find(separator, in: buffer) { headerEnd = end; break }
            guard buffer.count <= limits.maxHeaderBytes else { return .failed(.error(431, "the request's headers exceed \(limits.maxHeaderBytes) bytes")) }
            switch receive(fd, into: &buffer) {
            case .data: continue
            case .end: return buffer.isEmpty ? .closed : .failed(.error(400, "the connection closed in the middle of the request's headers"))
            case .timedOut:
                return buffer.isEmpty ? .closed : .failed(.error(408, "the request's headers did not arrive within \(Int(limits.readTimeout)) s", type: "timeout"))
            }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            return .failed(.error(400, "malformed request line (expected METHOD PATH HTTP/1.1)"))
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return .failed(.error(400, "malformed header line \(line.prefix(60).debugDescription)")) }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["transfer-encoding"] != nil {
            return .failed(.error(411, "chunked request bodies are not supported: send Content-Length"))
        }
        var length = 0
        if let text = headers["content-length"] {
            guard let n = Int(text), n >= 0 else { return .failed(.error(400, "Content-Length \(text.prefix(20).debugDescription) is not a byte count")) }
            length = n
        }
        guard length <= limits.maxBodyBytes else {
            return .failed(.error(413, "the request body (\(length) bytes) exceeds the limit of \(limits.maxBodyBytes) bytes (--max-body-bytes)"))
        }
        buffer.removeSubrange(..<(headerEnd! + 4))
        while buffer.count < length {
            switch receive(fd, into: &buffer) {
            case .data: continue
            case .end: return .failed(.error(400, "the connection closed after \(buffer.count) of the body's \(length) bytes"))
            case .timedOut:
                return .failed(.error(408, "the request body did not arrive within \(Int(limits.readTimeout)) s (\(buffer.count) of \(length) bytes)", type: "timeout"))
            }
        }
        let body = Data(buffer[..<length])
        buffer.removeSubrange(..<length)
        let target = String(requestLine[1])
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        return .request(HTTPRequest(method: String(requestLine[0]), path: path, headers: headers, body: body))
    }

    private enum Received { case data, end, timedOut }

    private func receive(_ fd: Int32, into buffer: inout [UInt8]) -> Received {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 { buffer += chunk[..<n]; return .data }
            if n == 0 { return .end }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .end
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }

    @discardableResult
    private func respond(_ fd: Int32, _ response: HTTPResponse, keepAlive: Bool) -> Bool {
        guard case let .json(status, body) = response else { return false }
        let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            + "Server: lmbench\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
        return Self.write(Array(head.utf8) + body, to: fd)
    }

    /// Writes every byte, or false when the client is gone or did not read within the write timeout.
    static func write(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    static func reason(_ status: Int) -> String {
        [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
         413: "Content Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
         503: "Service Unavailable"][status] ?? "Status"
    }
}

/// Why the server cannot start or a request cannot be served, as one line.
public struct ServeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
