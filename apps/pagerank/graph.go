package pagerank

import (
	"fmt"
	"iter"
	"slices"
	"unsafe"

	"github.com/quern-dev/quern/pipeline"
)

// graph is one partition's part of the graph, as the rank stage keeps it
// between rounds (its state, a pipeline blob): the partition's nodes
// renumbered 0..nodes-1, the sources (nodes with out-edges, whose edges
// were sent here by the edges stage) first, and each source's out-edges
// as indexes into the round's array of outgoing shares.
//
// State layout (graph.bytes), little-endian, every array starting at a
// multiple of 8 bytes (padded with zeros):
//
//	header    8 × u64: stateMagic, sources, nodes, edges, parts, mapped, 0, 0
//	ids       nodes × u64           node index → node id
//	outStart  (sources+1) × i32     source u's edges are targets[outStart[u]:outStart[u+1]]
//	targets   edges × i32           index into the outgoing shares
//	sendStart (parts+1) × i32       shares[sendStart[q]:sendStart[q+1]] go to partition q
//	recvStart (parts+1) × i32       shares from partition p land on mapFrom[recvStart[p]:recvStart[p+1]]
//	mapFrom   mapped × i32          node index of each share received
//
// Build writes it without the nodes that only appear as targets here
// (nodes = sources, mapped = 0) and sends each partition q the ids of the
// targets it owns, in the order of q's slots of the outgoing shares (u64
// each). Round 1 adds those received ids to the nodes and records where
// each sender's slots land (mapFrom); every later round sends each
// partition one array of float64 shares, in slot order, with no ids.
type graph struct {
	bytes                                            []byte
	sources, parts                                   int
	ids                                              []uint64
	outStart, targets, sendStart, recvStart, mapFrom []int32
}

const stateMagic = 0x31_4B_4E_41_52_50_52_51 // "QRPRANK1", little-endian

// newGraph allocates a graph of the given sizes, every array zero.
func newGraph(sources, nodes, edges, parts, mapped int) *graph {
	words := 8 + nodes + i32Words(sources+1) + i32Words(edges) + 2*i32Words(parts+1) + i32Words(mapped)
	b := asBytes(make([]uint64, words))
	head := view[uint64](b, 8)
	head[0], head[1], head[2], head[3], head[4], head[5] = stateMagic, uint64(sources), uint64(nodes), uint64(edges), uint64(parts), uint64(mapped)
	g, _ := loadGraph(b)
	return g
}

// loadGraph views a state's arrays in place.
func loadGraph(b []byte) (*graph, error) {
	if !littleEndian {
		return nil, fmt.Errorf("pagerank: the rank stage's state is little-endian; this machine is not")
	}
	b = aligned(b)
	if len(b) < 64 {
		return nil, fmt.Errorf("%w: %d bytes", errBadState, len(b))
	}
	head := view[uint64](b, 8)
	if head[0] != stateMagic {
		return nil, fmt.Errorf("%w: no magic number", errBadState)
	}
	const most = 1 << 31
	for _, n := range head[1:6] {
		if n >= most {
			return nil, fmt.Errorf("%w: a count of %d", errBadState, n)
		}
	}
	sources, nodes, edges, parts, mapped := int(head[1]), int(head[2]), int(head[3]), int(head[4]), int(head[5])
	words := 8 + nodes + i32Words(sources+1) + i32Words(edges) + 2*i32Words(parts+1) + i32Words(mapped)
	if len(b) != 8*words {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errBadState, len(b), 8*words)
	}
	g := &graph{bytes: b, sources: sources, parts: parts}
	off := 64
	next := func(n int) []int32 {
		s := view[int32](b[off:], n)
		off += 8 * i32Words(n)
		return s
	}
	g.ids = view[uint64](b[off:], nodes)
	off += 8 * nodes
	g.outStart, g.targets = next(sources+1), next(edges)
	g.sendStart, g.recvStart, g.mapFrom = next(parts+1), next(parts+1), next(mapped)
	return g, nil
}

func i32Words(n int) int { return (n + 1) / 2 }

// buildGraph is the rank stage's Build: it numbers the partition's sources
// and their targets as they come, lays the edges out by source, and sends
// each partition the ids of the targets it owns.
func buildGraph(t *pipeline.StateTask[uint64], pairs iter.Seq2[uint64, uint64]) error {
	var sources, targets idIndex
	var srcIDs, dstIDs []uint64
	var dstPart []int32
	edgeSrc, edgeDst := make([]int32, 0, t.Records), make([]int32, 0, t.Records)
	// The edges are numbered in batches: touching every batch's table
	// slots first lets the processor fetch them side by side (the loads do
	// not depend on each other), where one insert after another would wait
	// for each cache miss in turn.
	var batch [2 * 32]uint64
	n := 0
	numberBatch := func() {
		touch(&sources, &targets, batch[:n])
		for i := 0; i < n; i += 2 {
			src, dst := batch[i], batch[i+1]
			s, isNew := sources.insert(src, int32(len(srcIDs)))
			if isNew {
				srcIDs = append(srcIDs, src)
			}
			d, isNew := targets.insert(dst, int32(len(dstIDs)))
			if isNew {
				dstIDs = append(dstIDs, dst)
				dstPart = append(dstPart, int32(t.PartitionOf(dst)))
			}
			edgeSrc, edgeDst = append(edgeSrc, s), append(edgeDst, d)
		}
		n = 0
	}
	for src, dst := range pairs {
		batch[n], batch[n+1] = src, dst
		if n += 2; n == len(batch) {
			numberBatch()
		}
	}
	numberBatch()
	if len(edgeSrc) >= 1<<31 {
		return fmt.Errorf("%d edges in one partition: run with more --reducers", len(edgeSrc))
	}
	g := newGraph(len(srcIDs), len(srcIDs), len(edgeSrc), t.Partitions, 0)
	copy(g.ids, srcIDs)
	// Each target's slot in the outgoing shares: partition by partition,
	// in the order the targets came.
	for _, q := range dstPart {
		g.sendStart[q+1]++
	}
	for q := range t.Partitions {
		g.sendStart[q+1] += g.sendStart[q]
	}
	slot := make([]int32, len(dstIDs))
	fill := slices.Clone(g.sendStart[:t.Partitions])
	for d, q := range dstPart {
		slot[d] = fill[q]
		fill[q]++
	}
	for _, s := range edgeSrc {
		g.outStart[s+1]++
	}
	for u := range g.sources {
		g.outStart[u+1] += g.outStart[u]
	}
	next := slices.Clone(g.outStart[:g.sources])
	for e, s := range edgeSrc {
		g.targets[next[s]] = slot[edgeDst[e]]
		next[s]++
	}
	t.SetState(g.bytes)
	names := make([]uint64, len(dstIDs))
	for d, id := range dstIDs {
		names[slot[d]] = id
	}
	for q := range t.Partitions {
		if lo, hi := g.sendStart[q], g.sendStart[q+1]; hi > lo {
			t.Send(q, asBytes(names[lo:hi]))
		}
	}
	return nil
}

// addNodes completes a built graph with the ids of the targets the other
// partitions' Builds sent this one: the nodes this partition owns but had
// no out-edges of, and where each sender's shares will land.
func (b *graph) addNodes(t *pipeline.StateTask[uint64]) *graph {
	var index idIndex
	ids := slices.Clone(b.ids)
	for i, id := range ids {
		index.insert(id, int32(i))
	}
	recvStart := make([]int32, t.Partitions+1)
	var mapFrom []int32
	for from := range t.Partitions {
		msg := aligned(t.Received(from))
		for _, id := range view[uint64](msg, len(msg)/8) {
			i, isNew := index.insert(id, int32(len(ids)))
			if isNew {
				ids = append(ids, id)
			}
			mapFrom = append(mapFrom, i)
		}
		recvStart[from+1] = int32(len(mapFrom))
	}
	g := newGraph(b.sources, len(ids), len(b.targets), t.Partitions, len(mapFrom))
	copy(g.ids, ids)
	copy(g.outStart, b.outStart)
	copy(g.targets, b.targets)
	copy(g.sendStart, b.sendStart)
	copy(g.recvStart, recvStart)
	copy(g.mapFrom, mapFrom)
	return g
}

// ranks are the nodes' ranks from the shares the other partitions sent.
func (g *graph) ranks(t *pipeline.StateTask[uint64]) ([]float64, error) {
	sums := make([]float64, len(g.ids))
	for from := range t.Partitions {
		msg := aligned(t.Received(from))
		shares := view[float64](msg, len(msg)/8)
		to := g.mapFrom[g.recvStart[from]:g.recvStart[from+1]]
		if len(shares) != len(to) || len(msg)%8 != 0 {
			return nil, fmt.Errorf("%w: %d bytes of shares from partition %d, want %d shares", errBadState, len(msg), from, len(to))
		}
		for j, s := range shares {
			sums[to[j]] += s
		}
	}
	for i, s := range sums {
		sums[i] = (1 - Damping) + Damping*s
	}
	return sums, nil
}

// spread sends each source's rank to its out-edges in equal shares, summed
// per target in one array, and each partition its part of the array.
func (g *graph) spread(t *pipeline.StateTask[uint64], ranks []float64) {
	shares := make([]float64, g.sendStart[g.parts])
	for u := range g.sources {
		edges := g.targets[g.outStart[u]:g.outStart[u+1]]
		share := ranks[u] / float64(len(edges)) // a source has an edge
		for _, e := range edges {
			shares[e] += share
		}
	}
	for q := range g.parts {
		if lo, hi := g.sendStart[q], g.sendStart[q+1]; hi > lo {
			t.Send(q, asBytes(shares[lo:hi]))
		}
	}
}

// byID lists the node indexes in id order.
func (g *graph) byID() []int32 {
	order := make([]int32, len(g.ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch x, y := g.ids[a], g.ids[b]; {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return order
}

// idIndex numbers node ids: an open-addressing hash table from id to
// index (linear probing, at most half full), with an id and its index side
// by side so that a lookup costs one cache miss.
type idIndex struct {
	slots   []idSlot
	n       int
	mask    uint64
	bits    uint
	touched uint64 // see touch
}

type idSlot struct {
	id  uint64
	val int32 // index+1; 0 is an empty slot
}

// insert returns id's index, giving it v (and reporting true) if it had
// none.
func (x *idIndex) insert(id uint64, v int32) (int32, bool) {
	if 2*x.n >= len(x.slots) {
		x.grow()
	}
	for h := (id * 0x9E3779B97F4A7C15) >> (64 - x.bits); ; h = (h + 1) & x.mask {
		s := &x.slots[h]
		if s.val == 0 {
			s.id, s.val = id, v+1
			x.n++
			return v, true
		}
		if s.id == id {
			return s.val - 1, false
		}
	}
}

// touch reads the first table slot of each (source, target) pair in
// pairs, so that the cache lines are on their way before the inserts.
func touch(sources, targets *idIndex, pairs []uint64) {
	if len(sources.slots) == 0 || len(targets.slots) == 0 {
		return
	}
	var sum uint64
	for i := 0; i < len(pairs); i += 2 {
		sum += sources.slots[(pairs[i]*0x9E3779B97F4A7C15)>>(64-sources.bits)].id
		sum += targets.slots[(pairs[i+1]*0x9E3779B97F4A7C15)>>(64-targets.bits)].id
	}
	sources.touched += sum // keeps the loads from being optimised away
}

func (x *idIndex) grow() {
	old := x.slots
	x.bits = max(x.bits+1, 10)
	x.slots = make([]idSlot, 1<<x.bits)
	x.mask, x.n = 1<<x.bits-1, 0
	for _, s := range old {
		if s.val != 0 {
			x.insert(s.id, s.val-1)
		}
	}
}

// view is b's first n elements of type T, in place: b must be 8-byte
// aligned (blobs and asBytes of a []uint64 are) and hold n of them.
func view[T any](b []byte, n int) []T {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// aligned is b, or a copy of it if b is not 8-byte aligned (pipeline blobs
// are; this is a guard).
func aligned(b []byte) []byte {
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0 {
		return b
	}
	words := make([]uint64, (len(b)+7)/8)
	return asBytes(words)[:copy(asBytes(words), b)]
}

// asBytes is a slice of numbers' memory as bytes, in place.
func asBytes[T uint64 | float64](s []T) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 8*len(s))
}

// littleEndian says whether this machine stores numbers as the state
// layout does (every platform Quern builds for does).
var littleEndian = func() bool {
	probe := uint16(1)
	return *(*byte)(unsafe.Pointer(&probe)) == 1
}()
