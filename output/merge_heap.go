package output

// mergeItem is the head record of one merge input.
type mergeItem[K, V any] struct {
	k   K
	v   V
	src int // index of the input, the tie-break that keeps the merge stable
}

// mergeHeap is a binary min-heap of input heads ordered by (key, src),
// written for the concrete item type so that comparisons are direct calls
// rather than container/heap's interface calls over any.
type mergeHeap[K, V any] struct {
	items []mergeItem[K, V]
	cmp   func(a, b K) int
}

func (h *mergeHeap[K, V]) less(i, j int) bool {
	if c := h.cmp(h.items[i].k, h.items[j].k); c != 0 {
		return c < 0
	}
	return h.items[i].src < h.items[j].src
}

// init establishes the heap order over all items.
func (h *mergeHeap[K, V]) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// down moves item i towards the leaves until its children are not less.
func (h *mergeHeap[K, V]) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}

// popTop removes the top item; the caller has consumed it.
func (h *mergeHeap[K, V]) popTop() {
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items[n] = mergeItem[K, V]{} // drop references for the collector
	h.items = h.items[:n]
	if n > 0 {
		h.down(0)
	}
}
