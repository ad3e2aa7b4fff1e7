import XCTest
import GGUF

final class SHA256Tests: XCTestCase {
    func hex(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { SHA256.hex($0) } }

    func testKnownVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testStreamingInUnevenPiecesMatchesOneShot() {
        let data = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let oneShot = data.withUnsafeBytes { SHA256.hex($0) }
        var h = SHA256()
        var i = 0
        var step = 1
        while i < data.count {
            let end = min(data.count, i + step)
            h.update(data[i..<end])
            i = end
            step = step * 3 % 1000 + 1
        }
        XCTAssertEqual(h.finalizeHex(), oneShot)
        var million = SHA256()
        for _ in 0..<1000 { million.update([UInt8](repeating: 0x61, count: 1000)) }
        XCTAssertEqual(million.finalizeHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
