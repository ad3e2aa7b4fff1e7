/// Token texts as UTF-8 bytes in one pool, with an open-addressing hash table from bytes to id, so
/// that the merge loop can look up any byte range without building a String.
struct TokenTable {
    private(set) var pool: [UInt8] = []
    private(set) var offsets: [Int32] = [0]
    private var slots: [Int32]
    private let mask: Int

    init(tokens: [String]) {
        var capacity = 1
        while capacity < tokens.count * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        pool.reserveCapacity(tokens.count * 6)
        for token in tokens {
            pool.append(contentsOf: token.utf8)
            offsets.append(Int32(pool.count))
        }
        for id in 0..<tokens.count where lookup(bytesOf: id) == nil {
            // Duplicate texts keep the first id, as llama.cpp's text→id map does.
            insert(id)
        }
    }

    var count: Int { offsets.count - 1 }

    func range(of id: Int) -> Range<Int> { Int(offsets[id])..<Int(offsets[id + 1]) }

    func bytes(of id: Int) -> ArraySlice<UInt8> { pool[range(of: id)] }

    private static func hash(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf29ce484222325
        for b in p { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    private mutating func insert(_ id: Int) {
        let r = range(of: id)
        var slot = pool.withUnsafeBufferPointer { TokenTable.hash(UnsafeBufferPointer(rebasing: $0[r])) } & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(id)
    }

    private func lookup(bytesOf id: Int) -> Int? {
        pool.withUnsafeBufferPointer { lookup(UnsafeBufferPointer(rebasing: $0[range(of: id)])) }
    }

    /// The id whose text is exactly these bytes.
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = TokenTable.hash(bytes) & mask
        return pool.withUnsafeBufferPointer { pool in
            while true {
                let id = Int(slots[slot])
                if id < 0 { return nil }
                let r = Int(offsets[id])..<Int(offsets[id + 1])
                if r.count == bytes.count
                    && (bytes.isEmpty || memcmp(pool.baseAddress! + r.lowerBound, bytes.baseAddress!, bytes.count) == 0) {
                    return id
                }
                slot = (slot + 1) & mask
            }
        }
    }

    func lookup(_ string: String) -> Int? {
        var s = string
        return s.withUTF8 { lookup($0) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
