/// A binary max-heap ordered by `areInIncreasingOrder` (the top is the largest element). The
/// standard library has no priority queue.
struct BinaryHeap<Element> {
    private var storage: [Element] = []
    private let areInIncreasingOrder: (Element, Element) -> Bool

    init(by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    var isEmpty: Bool { storage.isEmpty }

    /// Empties the heap but keeps its storage, for a caller that fills it again and again.
    mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard areInIncreasingOrder(storage[parent], storage[child]) else { break }
            storage.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let top = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var largest = parent
            if left < storage.count && areInIncreasingOrder(storage[largest], storage[left]) { largest = left }
            if right < storage.count && areInIncreasingOrder(storage[largest], storage[right]) { largest = right }
            if largest == parent { break }
            storage.swapAt(parent, largest)
            parent = largest
        }
        return top
    }
}
