// Package pagerank is the bundled PageRank pipeline: `quern run pagerank
// --iterations 20 -i edges -o ranks` ranks the nodes of an edge list
// ("src<TAB>dst" lines of decimal node ids, as `quern gen graph` writes).
//
// Every node starts at rank 1, and each iteration sets
//
//	rank(v) = 0.15 + 0.85 × Σ rank(u)/outdegree(u) over the edges u→v
//
// counting a repeated edge as many times as it appears. A node without
// out-edges (dangling) passes its rank to no one, as in Spark's
// SparkPageRank example, so the ranks sum to less than the node count. The
// output is "node<TAB>rank" for every node that appears in an edge. The
// single-threaded baseline bench/baselines/pagerank computes the same ranks.
//
// The pipeline: the edges are read and grouped into each node's out-links
// (the graph, written once, partitioned by node and kept for every round);
// each round then cogroups the graph with the rank shares sent to each node,
// which only needs the shares shuffled, and sends the new shares on, summed
// per target node within each task (Combine) before they are written.
package pagerank

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"strconv"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// Example generates a graph and ranks it.
const Example = "quern gen graph --size 4MiB -o edges.txt\nquern run pagerank --iterations 20 --input edges.txt --output ranks"

// Damping is the share of a node's rank that follows its links.
const Damping = 0.85

// Pipeline is the registered pagerank pipeline.
var Pipeline = pipeline.Register("pagerank",
	"PageRank of an edge list (src<TAB>dst lines); node<TAB>rank after --iterations rounds",
	[]mapreduce.Param{{Name: "iterations", Usage: "rounds of rank propagation (at least 1)", Default: "20"}},
	build)

func build(p *pipeline.Pipeline) {
	edges := pipeline.Read(p, "edges", readEdge)
	graph := pipeline.ReduceByKey(edges, "graph", outLinks)
	first := pipeline.Combine(pipeline.Map(graph, "spread", func(_ *mapreduce.TaskContext, node uint64, links Links, emit func(uint64, float64)) error {
		spread(1, links, emit)
		return nil
	}), add)
	shares := pipeline.Iterate("rounds", first, pipeline.Loop{Rounds: rounds},
		func(shares pipeline.Collection[uint64, float64]) pipeline.Collection[uint64, float64] {
			return pipeline.Combine(pipeline.CoGroup(graph, shares, "rank", func(_ *mapreduce.TaskContext, node uint64, links iter.Seq[Links], in iter.Seq[float64], emit func(uint64, float64)) error {
				rank := newRank(in)
				for l := range links {
					spread(rank, l, emit)
				}
				return nil
			}), add)
		})
	ranks := pipeline.CoGroupByKey(graph, shares, "ranks", func(_ *mapreduce.TaskContext, node uint64, links iter.Seq[Links], in iter.Seq[float64], emit func(float64)) error {
		for range links { // every node of the graph has a rank, shares or not
			emit(newRank(in))
		}
		return nil
	})
	pipeline.Output(ranks)
}

// add sums the shares sent to one node within a task, so that each round
// shuffles a share per target node and task rather than per edge.
func add(a, b float64) float64 { return a + b }

// rounds is iterations-1: the first iteration's shares come from the
// initial ranks (spread), and the last one's ranks are the output (ranks).
func rounds(params map[string]string) (int, error) {
	n, err := strconv.Atoi(params["iterations"])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--iterations must be a whole number of at least 1, got %q", params["iterations"])
	}
	return n - 1, nil
}

// newRank is a node's rank from the shares sent to it.
func newRank(shares iter.Seq[float64]) float64 {
	var sum float64
	for s := range shares {
		sum += s
	}
	return (1 - Damping) + Damping*sum
}

// spread sends a node's rank to its out-links in equal shares.
func spread(rank float64, links Links, emit func(uint64, float64)) {
	if len(links) == 0 {
		return // dangling: the rank goes nowhere
	}
	share := rank / float64(len(links))
	for _, to := range links {
		emit(to, share)
	}
}

// readEdge emits an edge as (src, dst+1), and (dst, 0) so that a node with
// no out-links is still in the graph.
func readEdge(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(uint64, uint64)) error {
	fields := bytes.Fields(rec.Value)
	if len(fields) == 0 {
		return nil // a blank line
	}
	if len(fields) != 2 {
		return fmt.Errorf("want two node ids (src<TAB>dst), got %q", rec.Value)
	}
	src, err := strconv.ParseUint(string(fields[0]), 10, 64)
	if err != nil {
		return fmt.Errorf("source node: %w", err)
	}
	dst, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil || dst == 1<<64-1 {
		return fmt.Errorf("target node %q: not a node id below 2^64-1", fields[1])
	}
	emit(src, dst+1)
	emit(dst, 0)
	return nil
}

// outLinks collects a node's out-links.
func outLinks(_ *mapreduce.TaskContext, node uint64, targets iter.Seq[uint64], emit func(Links)) error {
	links := Links{}
	for t := range targets {
		if t > 0 {
			links = append(links, t-1)
		}
	}
	emit(links)
	return nil
}

// Links are a node's out-links. Their binary form, which the pipeline keeps
// in its runs, is the ids as uvarints one after another.
type Links []uint64

// AppendBinary implements encoding.BinaryAppender.
func (l Links) AppendBinary(dst []byte) ([]byte, error) {
	for _, id := range l {
		dst = binary.AppendUvarint(dst, id)
	}
	return dst, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (l *Links) UnmarshalBinary(b []byte) error {
	out := (*l)[:0]
	for len(b) > 0 {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return errBadLinks
		}
		out = append(out, id)
		b = b[n:]
	}
	*l = out
	return nil
}

var errBadLinks = errors.New("pagerank: bad out-link list")
