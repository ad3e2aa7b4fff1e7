import Foundation
import Inference
import Results

/// What engines of any kind may need to be made: the native model (loaded once, on first use, and
/// shared by every native engine of a run) and the prompt chunk size.
public final class EngineContext {
    public let chunkSize: Int
    private let loadModel: () throws -> LoadedModel
    private var generator: Generator?

    public init(chunkSize: Int = 512, loadModel: @escaping () throws -> LoadedModel) {
        self.chunkSize = chunkSize
        self.loadModel = loadModel
    }

    /// The native engine's generator over the loaded model.
    public func nativeGenerator() throws -> Generator {
        if let generator { return generator }
        let made = Generator(try loadModel(), chunkSize: chunkSize)
        generator = made
        return made
    }
}

/// A kind of engine: the engine names it answers to in `--engines` and how it makes one.
public protocol EngineKind {
    /// Stored with each engine of a run (`native`).
    static var kind: String { get }
    static var engineNames: [String] { get }
    static func make(_ spec: EngineSpec, context: EngineContext) throws -> Engine
}

/// Every engine kind. A new kind (an HTTP client, say) is a file with an `EngineKind` type and one
/// line here; the runner sees only `Engine`.
public enum EngineKinds {
    public static let all: [EngineKind.Type] = [
        NativeEngine.self,
        OpenAIEngine.self,
    ]

    /// Every engine name `--engines` accepts.
    public static var engineNames: [String] { all.flatMap { $0.engineNames }.sorted() }

    /// Checks a specification's name without making the engine (before the model is loaded).
    public static func kind(of spec: EngineSpec) throws -> EngineKind.Type {
        guard let kind = all.first(where: { $0.engineNames.contains(spec.name) }) else {
            throw SpecError("--engines: unknown engine \(quoted(spec.name)) (engines: \(engineNames.joined(separator: ", ")))")
        }
        return kind
    }

    public static func make(_ spec: EngineSpec, context: EngineContext) throws -> Engine {
        do {
            return try kind(of: spec).make(spec, context: context)
        } catch let error as StrategyError {
            throw SpecError("--engines: \(error.description)")
        }
    }
}
