import XCTest
import Kernels

/// A test case whose tests run their bodies once per kernel path this CPU supports
/// (`KernelPath.supported`): the AVX2 and the AVX-512 kernels on an AVX-512 machine, the AVX2 ones
/// elsewhere. `kernelPath` is the current run's path; each run is announced in the log, so a failure
/// reads under its path.
open class KernelPathTestCase: XCTestCase {
    public private(set) var kernelPath: KernelPath = .selected

    public func onEveryKernelPath(_ body: () throws -> Void) rethrows {
        for path in KernelPath.supported {
            kernelPath = path
            print("\(name): kernel path \(path.rawValue) (this CPU runs \(KernelPath.supported.map(\.rawValue).joined(separator: ", ")))")
            try body()
        }
    }
}
