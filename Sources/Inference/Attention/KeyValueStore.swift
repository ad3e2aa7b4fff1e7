import Kernels

/// The cached keys (after RoPE) and values of one layer, in half precision (llama.cpp's default KV
/// type) and in the layout the attention primitive reads: per KV head, key panels of 16 positions
/// [headDim][16] and value rows [position][headDim].
///
/// A store is either growable (every position is kept, as full attention needs) or a ring of
/// `capacity` slots where position p lives in slot p mod capacity (sliding-window layers). Memory is
/// zero-initialised so that padding in a partial panel is always a finite number.
final class KeyValueStore {
    let kvHeads: Int
    let headDim: Int
    let isRing: Bool
    private(set) var capacity: Int
    private var keys: UnsafeMutablePointer<Float16>
    private var values: UnsafeMutablePointer<Float16>
    /// The next position to be written (= positions seen so far).
    private(set) var nextPosition = 0

    /// The slots a ring grows to: given a smaller `capacity`, a ring doubles as positions come, as a
    /// growable store does, until it holds this many (before it first wraps, so every slot is still
    /// its position), so a long window a short sequence never fills costs only what it holds.
    private let ringLimit: Int

    init(kvHeads: Int, headDim: Int, capacity: Int, isRing: Bool, ringGrowsTo ringLimit: Int? = nil) {
        precondition(capacity > 0 && capacity % 16 == 0, "KV capacity must be a positive multiple of 16")
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.isRing = isRing
        self.capacity = capacity
        self.ringLimit = max(capacity, ringLimit ?? capacity)
        keys = KeyValueStore.allocate(kvHeads * capacity * headDim)
        values = KeyValueStore.allocate(kvHeads * capacity * headDim)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float16> {
        let p = UnsafeMutablePointer<Float16>.allocate(capacity: count)
        p.initialize(repeating: 0, count: count)
        return p
    }

    /// Bytes held for keys and values.
    var bytes: Int { KeyValueStore.bytes(kvHeads: kvHeads, headDim: headDim, capacity: capacity) }

    /// Bytes of a store of `capacity` slots.
    static func bytes(kvHeads: Int, headDim: Int, capacity: Int) -> Int {
        2 * kvHeads * capacity * headDim * MemoryLayout<Float16>.size
    }

    /// Slots of a store that holds `positions` positions and never grows (a multiple of 16, at least 16).
    static func fixedCapacity(positions: Int) -> Int { max(16, (positions + 15) / 16 * 16) }

    /// Slots of a ring that keeps the last `window` positions while forward calls bring up to
    /// `maxChunkTokens` more.
    static func ringCapacity(window: Int, maxChunkTokens: Int) -> Int { fixedCapacity(positions: window + maxChunkTokens) }

    /// A ring for the last `window` positions of a layer's sequence. It starts with room for the
    /// positions the sequence is expected to reach (or small, when that is not known) and grows to
    /// its full size only as positions come: a window longer than the sequence (a model file's, or
    /// LM-Infinite's at the trained length on a short prompt) costs only what the sequence needs.
    convenience init(window: Int, of spec: AttentionLayerSpec) {
        self.init(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: KeyValueStore.windowCapacity(window: window, of: spec, positions: 0),
                  isRing: true, ringGrowsTo: KeyValueStore.ringCapacity(window: window, maxChunkTokens: spec.maxChunkTokens))
    }

    /// Slots of such a window ring after `positions` positions.
    static func windowCapacity(window: Int, of spec: AttentionLayerSpec, positions: Int) -> Int {
        min(growableCapacity(reserving: spec.reservedPositions, positions: positions), ringCapacity(window: window, maxChunkTokens: spec.maxChunkTokens))
    }

    /// Slots a growable store starts with when nothing says how long its sequence will be.
    static let initialGrowableCapacity = 256

    /// A growable store for a layer's sequence, with room from the start for the positions it is
    /// expected to reach (`spec.reservedPositions`; when that is not known, it starts at 256 slots). A generation knows its prompt and new tokens: holding them in one allocation
    /// made up front, rather than doubling as they come, never copies a store mid-run (a stall of
    /// page faults that fell on the first decoded token whenever the sequence crossed a power of
    /// two) and never holds up to twice what the sequence needs.
    convenience init(everyPositionOf spec: AttentionLayerSpec) {
        self.init(kvHeads: spec.kvHeads, headDim: spec.headDim, capacity: KeyValueStore.growableCapacity(reserving: spec.reservedPositions, positions: 0),
                  isRing: false)
    }

    /// Slots of such a store after `positions` positions: the reserved room, doubled only if the
    /// sequence outgrows it.
    static func growableCapacity(reserving reserved: Int, positions: Int) -> Int {
        growableCapacity(initial: reserved > 0 ? fixedCapacity(positions: reserved) : initialGrowableCapacity, positions: positions)
    }

    /// Slots a growable store that started with `initial` slots has once it holds `positions`
    /// positions: `initial` doubled until it fits. Doubling from the current capacity reaches the
    /// same number, so the size depends on the position count alone, not on how the positions
    /// arrived, and memory estimates made before a run are exact.
    static func growableCapacity(initial: Int = initialGrowableCapacity, positions: Int) -> Int {
        var capacity = initial
        while capacity < positions { capacity *= 2 }
        return capacity
    }

    /// Makes room for positions up to `positions` (a ring only up to its limit).
    func reserve(positions: Int) {
        guard positions > capacity, !isRing || capacity < ringLimit else { return }
        let grown = KeyValueStore.growableCapacity(initial: capacity, positions: positions)
        let newCapacity = isRing ? min(ringLimit, grown) : grown
        let newKeys = KeyValueStore.allocate(kvHeads * newCapacity * headDim)
        let newValues = KeyValueStore.allocate(kvHeads * newCapacity * headDim)
        for h in 0..<kvHeads {
            (newKeys + h * newCapacity * headDim).update(from: keys + h * capacity * headDim, count: capacity * headDim)
            (newValues + h * newCapacity * headDim).update(from: values + h * capacity * headDim, count: capacity * headDim)
        }
        keys.deallocate()
        values.deallocate()
        keys = newKeys
        values = newValues
        capacity = newCapacity
    }

    /// Stores `count` positions starting at `nextPosition`: `newKeys` and `newValues` are
    /// [count][kvHeads][headDim].
    func append(keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>, count: Int) {
        reserve(positions: nextPosition + count)
        for t in 0..<count {
            let slot = (nextPosition + t) % capacity
            let panel = slot / 16, lane = slot % 16
            for h in 0..<kvHeads {
                let k = newKeys + (t * kvHeads + h) * headDim
                let panelBase = keys + h * capacity * headDim + panel * headDim * 16 + lane
                for d in 0..<headDim { panelBase[d * 16] = Float16(k[d]) }
                let v = newValues + (t * kvHeads + h) * headDim, row = values + h * capacity * headDim + slot * headDim
                for d in 0..<headDim { row[d] = Float16(v[d]) }
            }
        }
        nextPosition += count
    }

    /// Positions `from ..< to` of KV head `head` of a growable store as one span (`from` a multiple of 16).
    func span(head: Int, from: Int, to: Int) -> KeyValueSpan {
        precondition(!isRing && from % 16 == 0 && from <= to && to <= nextPosition, "span outside the stored positions")
        return KeyValueSpan(keyPanels: keys + head * capacity * headDim + from * headDim, values: values + head * capacity * headDim + from * headDim,
                            valueStride: headDim, firstPosition: from, count: to - from)
    }

    /// Widens the stored key of `position` (growable stores) for KV head `head` into `into` (headDim floats).
    func copyKey(head: Int, position: Int, into: UnsafeMutablePointer<Float>) {
        let panelBase = keys + head * capacity * headDim + (position / 16) * headDim * 16 + position % 16
        for d in 0..<headDim { into[d] = Float(panelBase[d * 16]) }
    }

    /// Widens the stored value of `position` (growable stores) for KV head `head` into `into`.
    func copyValue(head: Int, position: Int, into: UnsafeMutablePointer<Float>) {
        let row = values + head * capacity * headDim + position * headDim
        for d in 0..<headDim { into[d] = Float(row[d]) }
    }

    /// Forgets every position (the memory stays, zeroed, so padding stays finite).
    func removeAll() {
        keys.update(repeating: 0, count: kvHeads * capacity * headDim)
        values.update(repeating: 0, count: kvHeads * capacity * headDim)
        nextPosition = 0
    }

    /// The stored positions of KV head `head` as one or two spans (two when a ring has wrapped).
    /// Spans start on a panel boundary; in a ring, slots before the oldest resident position hold
    /// newer positions and are masked by the caller's window, which never reaches back that far.
    func spans(head: Int) -> [KeyValueSpan] {
        let keyBase = keys + head * capacity * headDim, valueBase = values + head * capacity * headDim
        let oldest = max(0, nextPosition - capacity)
        let first = oldest - oldest % 16
        let firstSlot = first % capacity
        let total = nextPosition - first
        let beforeWrap = min(total, capacity - firstSlot)
        var spans = [KeyValueSpan(keyPanels: keyBase + firstSlot * headDim, values: valueBase + firstSlot * headDim,
                                  valueStride: headDim, firstPosition: first, count: beforeWrap)]
        if total > beforeWrap {
            spans.append(KeyValueSpan(keyPanels: keyBase, values: valueBase, valueStride: headDim,
                                      firstPosition: first + beforeWrap, count: total - beforeWrap))
        }
        return spans
    }
}
