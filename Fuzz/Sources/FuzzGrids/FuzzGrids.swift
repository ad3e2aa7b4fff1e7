import Bench
import FuzzSupport
import Inference

// Command-line values: the same text as `--lengths`, as `--depths` and as `--engines` (each engine
// made on the synthetic Gemma 3 model, then asked whether a prompt fits, which works out its
// memory from the parameters given).
let context = EngineContext(chunkSize: 16) { seedModel("gemma3") }

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: FuzzerArguments) -> CInt {
    _ = try! context.nativeGenerator()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGrids(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let lengths = try LengthGrid.parse(text)
        require(lengths.count <= LengthGrid.maximumPoints && lengths.allSatisfy { (1...LengthGrid.maximum).contains($0) }, "lengths \(lengths)")
    } catch {
        requireOneLine(error)
    }
    do {
        let depths = try DepthGrid.parse(text)
        require(depths.count <= LengthGrid.maximumPoints && depths.allSatisfy { (0...100).contains($0) }, "depths \(depths)")
    } catch {
        requireOneLine(error)
    }
    do {
        for spec in try EngineSpec.parseList(text) {
            let engine = try EngineKinds.make(spec, context: context)
            _ = engine.refusal(promptTokens: 4096, maxNewTokens: 16)
        }
    } catch {
        requireOneLine(error)
    }
    return 0
}
