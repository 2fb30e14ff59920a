// Package pagerank is the bundled PageRank pipeline: `quern run pagerank
// --iterations 20 -i edges -o ranks` ranks the nodes of an edge list
// ("src<TAB>dst" lines of decimal node ids, as `quern gen graph` writes;
// or separated by spaces). A line starting with "#" or "%" is a comment:
// the header of the SNAP and KONECT edge lists, which GraphX's
// edgeListFile and NetworkX skip too.
//
// Every node starts at rank 1, and each iteration sets
//
//	rank(v) = 0.15 + 0.85 × Σ rank(u)/outdegree(u) over the edges u→v
//
// counting a repeated edge as many times as it appears. A node without
// out-edges (dangling) passes its rank to no one, as in Spark's
// SparkPageRank example, so the ranks sum to less than the node count. The
// output is "node<TAB>rank" for every node that appears in an edge, each
// part file holding its partition's nodes in id order. The single-threaded
// baseline bench/baselines/pagerank computes the same ranks.
//
// The pipeline has two stages. "edges" reads the edge list and sends each
// edge, unsorted, to the partition of its source. "rank" is a state stage
// (pipeline.Stateful): each partition renumbers its nodes to dense indexes
// once and keeps its out-edges as compact arrays (graph.go), and each
// round sends every other partition one array of rank shares, summed per
// target node, with no sort and no hash probe per edge.
package pagerank

import (
	"errors"
	"fmt"
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
	"PageRank of an edge list (src<TAB>dst lines, # comments); node<TAB>rank after --iterations rounds",
	[]mapreduce.Param{{Name: "iterations", Usage: "rounds of rank propagation (at least 1)", Default: "20"}},
	func(p *pipeline.Pipeline) { Build(p, nil) })

// Step is the rank stage's step function.
type Step = func(t *pipeline.StateTask[uint64]) error

// Build adds pagerank's stages to p, the rank stage's Step wrapped by wrap
// if it is not nil: the registered pipeline has none, and a test may wrap
// the step to fail it in a given round.
func Build(p *pipeline.Pipeline, wrap func(Step) Step) {
	edges := pipeline.ReadLines(p, "edges", readEdge)
	loop := pipeline.StateLoop[uint64, uint64, uint64, float64]{
		Rounds: Iterations,
		Build:  buildGraph,
		Step:   step,
		Finish: finish,
	}
	if wrap != nil {
		loop.Step = wrap(loop.Step)
	}
	pipeline.Output(pipeline.Stateful(edges, "rank", loop))
}

// Iterations is the number of rounds, from the --iterations parameter:
// each round sends the shares of one iteration, and Finish adds up the
// last. Beam's translation (beam/beamjob) unrolls as many rounds.
func Iterations(params map[string]string) (int, error) {
	n, err := strconv.Atoi(params["iterations"])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--iterations must be a whole number of at least 1, got %q", params["iterations"])
	}
	return n, nil
}

// readEdge emits an edge as (src, dst).
func readEdge(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(uint64, uint64)) error {
	src, dst, ok, err := parseEdge(rec.Value)
	if err != nil || !ok {
		return err
	}
	emit(src, dst)
	return nil
}

// parseEdge reads "src<TAB>dst" (or the two ids between any spaces and
// tabs); ok is false for a blank line and a comment. It is
// strconv.ParseUint without the string conversions, since it runs once per
// edge.
func parseEdge(line []byte) (src, dst uint64, ok bool, err error) {
	var ids [2]uint64
	n, i := 0, 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		if n == 0 && (line[i] == '#' || line[i] == '%') {
			return 0, 0, false, nil
		}
		start := i
		var v uint64
		for i < len(line) && !isSpace(line[i]) {
			c := line[i] - '0'
			if c > 9 || v > (1<<64-1-uint64(c))/10 {
				return 0, 0, false, fmt.Errorf("node id %q: not a whole number below 2^64", field(line[start:]))
			}
			v = v*10 + uint64(c)
			i++
		}
		if n == 2 {
			return 0, 0, false, fmt.Errorf("want two node ids (src<TAB>dst), got %q", line)
		}
		ids[n] = v
		n++
	}
	switch n {
	case 0:
		return 0, 0, false, nil
	case 1:
		return 0, 0, false, fmt.Errorf("want two node ids (src<TAB>dst), got %q", line)
	}
	return ids[0], ids[1], true, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// field is b up to its first space.
func field(b []byte) []byte {
	for i, c := range b {
		if isSpace(c) {
			return b[:i]
		}
	}
	return b
}

// step runs a round: it sums the shares received (but in round 1, whose
// ranks are all 1, it completes the graph with the node ids the other
// partitions' Builds sent), and sends each partition its nodes' new shares.
func step(t *pipeline.StateTask[uint64]) error {
	g, err := loadGraph(t.State())
	if err != nil {
		return err
	}
	var ranks []float64
	if t.Round == 1 {
		g = g.addNodes(t)
		t.SetState(g.bytes)
		ranks = make([]float64, g.sources)
		for i := range ranks {
			ranks[i] = 1
		}
	} else if ranks, err = g.ranks(t); err != nil {
		return err
	}
	g.spread(t, ranks)
	return nil
}

// finish emits every node's rank from the last round's shares, in id order.
func finish(t *pipeline.StateTask[uint64], emit func(uint64, float64)) error {
	g, err := loadGraph(t.State())
	if err != nil {
		return err
	}
	ranks, err := g.ranks(t)
	if err != nil {
		return err
	}
	for _, i := range g.byID() {
		emit(g.ids[i], ranks[i])
	}
	return nil
}

var errBadState = errors.New("pagerank: bad graph state")
