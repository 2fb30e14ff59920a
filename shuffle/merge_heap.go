package shuffle

import (
	"bytes"

	"github.com/quern-dev/quern/spill"
)

// mergeInput is one input of a mergingIter together with its current record.
// key caches kv.Key so that comparisons touch one less pointer.
type mergeInput struct {
	it    spill.Iterator
	kv    *spill.KV
	key   []byte
	index int // position in the inputs slice; breaks ties between equal keys
}

// mergeHeap is a binary min-heap of inputs ordered by (key, index). It is
// written for the concrete item type rather than with container/heap, whose
// Less/Swap interface calls would sit in the innermost loop of every reduce
// task and could not be inlined (the same choice as Pebble's
// merging_iter_heap.go).
type mergeHeap struct {
	items []*mergeInput
}

func (h *mergeHeap) len() int { return len(h.items) }

// less orders by key, then by input index, so equal keys leave the merge in
// input order and the merge is deterministic.
func (h *mergeHeap) less(i, j int) bool {
	return lessInput(h.items[i], h.items[j])
}

// lessInput is less on items rather than indexes, for fixTop.
func lessInput(a, b *mergeInput) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.index < b.index
}

// init establishes the heap order over all items.
func (h *mergeHeap) init() {
	n := h.len()
	for i := n/2 - 1; i >= 0; i-- {
		h.down(i, n)
	}
}

// fixTop restores the heap order after the top item's key has grown. It is
// the common step of a merge: the top input advanced by one record.
//
// It first checks whether the top still sorts before both children, the
// case of inputs whose keys do not interleave (two comparisons). Otherwise
// it sifts bottom-up (Floyd): walk the path of smaller children to a leaf
// with one comparison per level, then move the item up from there to its
// place, which for interleaved inputs is usually near the bottom. That
// costs about log2(k)+2 comparisons instead of 2*log2(k).
func (h *mergeHeap) fixTop() {
	items := h.items
	n := len(items)
	if n < 2 {
		return
	}
	top := items[0]
	if n == 2 {
		// The two-way merge: one comparison, which the general path
		// below would follow with a redundant one.
		if lessInput(items[1], top) {
			items[0], items[1] = items[1], top
		}
		return
	}
	j := 1
	if lessInput(items[2], items[1]) {
		j = 2
	}
	if !lessInput(items[j], top) {
		return
	}
	// Descend along the smaller children, moving each up one level.
	i := 0
	for {
		items[i] = items[j]
		i = j
		j = 2*i + 1
		if j >= n {
			break
		}
		if j+1 < n && lessInput(items[j+1], items[j]) {
			j++
		}
	}
	// items[i] is a hole at a leaf; sift top up from there.
	for i > 0 {
		parent := (i - 1) / 2
		if !lessInput(top, items[parent]) {
			break
		}
		items[i] = items[parent]
		i = parent
	}
	items[i] = top
}

// popTop removes the top item (an exhausted input).
func (h *mergeHeap) popTop() {
	n := h.len() - 1
	h.items[0] = h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	if n > 1 {
		h.down(0, n)
	}
}

func (h *mergeHeap) down(i0, n int) {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && h.less(j2, j1) {
			j = j2 // right child
		}
		if !h.less(j, i) {
			break
		}
		h.items[i], h.items[j] = h.items[j], h.items[i]
		i = j
	}
}
