package gen

import (
	"io"
	"math/bits"
	"strconv"
)

// R-MAT's quadrant probabilities in percent, those of the Graph500
// benchmark: at each level of the adjacency matrix an edge falls in the
// top-left quadrant with probability rmatA, top-right rmatB, bottom-left
// rmatC and bottom-right the rest (5%). Skewed like this, a few nodes get
// most of the edges, as in web and social graphs.
const (
	rmatA = 57
	rmatB = 19
	rmatC = 19
)

// GraphBytesPerNode sets a graph's node count from its size: the nodes are
// the power of two nearest below size/GraphBytesPerNode (at least 16). With
// lines of about 13-16 bytes that is about 16-20 edges per node, Graph500's
// edge factor of 16.
const GraphBytesPerNode = 256

// Graph writes a directed R-MAT graph (Chakrabarti, Zhan and Faloutsos, 2004)
// as an edge list: one "src<TAB>dst\n" line per edge, node ids in decimal,
// in [0, nodes), where nodes is GraphNodes(size). Each edge picks one of the
// four quadrants of the adjacency matrix at each of log2(nodes) levels with
// Graph500's probabilities (0.57, 0.19, 0.19, 0.05), and the ids are then
// scrambled by a seeded bijection so that the popular nodes are spread over
// the id range rather than all near 0. Self-loops are drawn again; the same
// edge may appear more than once (a multigraph, as Graph500's is), and a
// node may have no edges at all.
//
// It stops at the first line end at or after size bytes. The node count
// depends on size, so unlike text a smaller graph is not a prefix of a
// larger one. Returns the number of bytes written.
func Graph(w io.Writer, size int64, seed uint64) (int64, error) {
	if err := checkSize("graph", size); err != nil {
		return 0, err
	}
	scale := graphScale(size)
	r := newRNG(seed, streamGraph)
	perm := newNodePerm(seed, scale)
	// Thresholds on 32 random bits: below ab the edge takes the top row,
	// and within it below a the left column; the bottom row splits at c.
	const unit = 1 << 32
	a := uint64(rmatA * unit / 100)
	ab := uint64((rmatA + rmatB) * unit / 100)
	abc := uint64((rmatA + rmatB + rmatC) * unit / 100)
	s := newSink(w, "graph")
	for s.total() < size {
		var src, dst uint64
		for src == dst {
			src, dst = 0, 0
			for range scale {
				p := r.next() & (unit - 1)
				src <<= 1
				dst <<= 1
				switch {
				case p < a:
				case p < ab:
					dst |= 1
				case p < abc:
					src |= 1
				default:
					src |= 1
					dst |= 1
				}
			}
		}
		s.buf = strconv.AppendUint(s.buf, perm.apply(src), 10)
		s.buf = append(s.buf, '\t')
		s.buf = strconv.AppendUint(s.buf, perm.apply(dst), 10)
		s.buf = append(s.buf, '\n')
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}

// GraphNodes is the number of node ids of a graph of size bytes: ids are in
// [0, GraphNodes(size)).
func GraphNodes(size int64) uint64 { return 1 << graphScale(size) }

// graphScale is log2 of the node count: the largest power of two at most
// size/GraphBytesPerNode, and at least 4 (16 nodes).
func graphScale(size int64) int {
	return max(4, bits.Len64(uint64(max(size, 1))/GraphBytesPerNode)-1)
}

// nodePerm is a seeded bijection on [0, 2^scale): an odd multiplier and an
// added key modulo 2^scale, then an xor-shift, each invertible.
type nodePerm struct {
	mask, mul, add uint64
	shift          int
}

func newNodePerm(seed uint64, scale int) nodePerm {
	mask := uint64(1)<<scale - 1
	return nodePerm{
		mask:  mask,
		mul:   (mix64(seed^0x6772617068) | 1) & mask,
		add:   mix64(seed+0x9e3779b97f4a7c15) & mask,
		shift: (scale + 1) / 2,
	}
}

func (p nodePerm) apply(x uint64) uint64 {
	x = (x*p.mul + p.add) & p.mask
	return x ^ x>>p.shift
}
