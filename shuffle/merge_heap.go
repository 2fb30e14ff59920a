package shuffle

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/quern-dev/quern/spill"
)

// mergeInput is one input of a mergingIter together with its current record.
// key caches kv.Key so that a comparison touches one less pointer.
type mergeInput struct {
	it   spill.Iterator
	kv   *spill.KV
	key  []byte
	done bool // exhausted, failed before start, or nil: sorts after every record
}

// loserNode is one match of the tournament: the input that lost it and the
// 8-byte prefix of that input's key. Keeping the prefix in the node means a
// match usually reads only the tree, never the input, and costs one integer
// comparison instead of a bytes.Compare call.
type loserNode struct {
	prefix uint64 // keyPrefix of the input's key; math.MaxUint64 once done
	input  int
}

// loserTree is a tournament tree of merge inputs ordered by (key, input
// index), the structure Knuth recommends for k-way merging (TAOCP vol. 3,
// 5.4.1). It is written for the concrete input type, not container/heap,
// whose Less/Swap interface calls would sit in the innermost loop of every
// reduce task and could not be inlined.
//
// With k inputs, nodes[k+i] would be the leaf of input i and nodes[p] the
// match between nodes[2p] and nodes[2p+1]; leaves are implicit. Each
// internal node 1 <= p < k holds the loser of its match and nodes[0] the
// overall winner. The shape is that of a binary heap, so it works for any
// k, not only powers of two.
//
// When the winner advances, only the matches on its leaf's path to the
// root can change, and each is replayed against the loser stored there:
// one comparison per level, about log2(k), where a binary heap needs up to
// two per level to choose a child and then compare with it. For the 32-way
// merge of a sort that is 5 comparisons per record instead of the heap's
// 7 with Floyd's bottom-up sift.
//
// The winner's runner-up is the smallest loser on its path, so while the
// winner's new prefix stays below all of theirs it wins again without a
// replay. bound caches that smallest prefix; it is computed only after a
// replay the winner survived, a sign that its input is in a run of keys
// smaller than the others' (presorted or clustered data), where it turns
// log2(k) comparisons per record into one.
type loserTree struct {
	inputs []mergeInput // shared with the mergingIter
	nodes  []loserNode
	// bound is a prefix below which the winner's next key certainly
	// still wins, or 0 for none.
	bound uint64
}

// keyPrefix returns the first 8 bytes of key as a big-endian integer,
// padded with zero bytes if key is shorter. For two keys, a smaller prefix
// means a smaller key (bytes.Compare), because a padding zero sits where the
// shorter key has ended and an ended key sorts first; equal prefixes say
// nothing (the keys "a" and "a\x00" share one), so the caller must then
// compare whole keys.
func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var p uint64
	for i, b := range key {
		p |= uint64(b) << (56 - 8*i)
	}
	return p
}

// less reports whether a's input sorts before b's: by key, then by input
// index, so equal keys leave the merge in input order and the merge is
// deterministic.
func (t *loserTree) less(a, b loserNode) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return t.lessSlow(a.input, b.input)
}

// lessSlow is less for inputs whose key prefixes are equal.
func (t *loserTree) lessSlow(i, j int) bool {
	a, b := &t.inputs[i], &t.inputs[j]
	if a.done || b.done {
		if a.done != b.done {
			return b.done
		}
	} else if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return i < j
}

// node returns input i's entry for the tree, from its current state.
func (t *loserTree) node(i int) loserNode {
	in := &t.inputs[i]
	if in.done {
		return loserNode{prefix: math.MaxUint64, input: i}
	}
	return loserNode{prefix: keyPrefix(in.key), input: i}
}

// init plays every match bottom-up. There must be at least one input, and
// every input must already hold its first record or be done.
func (t *loserTree) init() {
	k := len(t.inputs)
	if cap(t.nodes) < k {
		t.nodes = make([]loserNode, k)
	}
	t.nodes = t.nodes[:k]
	// winners[p] is the winner of the match at p, leaves included. It is
	// needed only while building, once per merge.
	winners := make([]loserNode, 2*k)
	for i := range k {
		winners[k+i] = t.node(i)
	}
	for p := k - 1; p >= 1; p-- {
		a, b := winners[2*p], winners[2*p+1]
		if t.less(b, a) {
			a, b = b, a
		}
		winners[p], t.nodes[p] = a, b
	}
	t.nodes[0] = winners[1]
	t.bound = 0
}

// winner returns the index of the input with the smallest record, which
// is done if every input is.
func (t *loserTree) winner() int { return t.nodes[0].input }

// fixWinner replays the winner's matches after its input advanced (or
// became done).
func (t *loserTree) fixWinner() {
	nodes := t.nodes
	w := t.node(nodes[0].input)
	if w.prefix < t.bound {
		// Smaller than every loser's key: the matches stand.
		nodes[0] = w
		return
	}
	in := w.input
	for p := (len(nodes) + in) >> 1; p > 0; p >>= 1 {
		if t.less(nodes[p], w) {
			nodes[p], w = w, nodes[p]
		}
	}
	nodes[0] = w
	t.bound = 0
	if w.input == in {
		b := uint64(math.MaxUint64)
		for p := (len(nodes) + in) >> 1; p > 0; p >>= 1 {
			b = min(b, nodes[p].prefix)
		}
		t.bound = b
	}
}
