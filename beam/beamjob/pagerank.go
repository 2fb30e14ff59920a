package beamjob

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/quern-dev/quern/apps/pagerank"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/pipeline"
)

// PageRank (apps/pagerank) runs on Beam as its rounds unrolled into one
// pipeline, as Beam's own PageRank examples do. On Quern's engine its rank
// stage keeps each partition's graph in memory from round to round
// (pipeline.Stateful), which has no portable form; here the graph is a
// PCollection that every round joins with the ranks of the round before:
//
//	read stage "edges" (the pipeline's own: readStageFn)   (src, dst)
//	  -> GroupByKey -> ParDo(linksFn)                      links: src -> its targets
//	round 1:    ParDo(firstSpreadFn) over links            every rank is 1
//	round r>1:  CoGroupByKey(links, sums of round r-1)
//	              -> ParDo(spreadFn)                       rank = 0.15 + 0.85 × sum
//	each round: shares (dst, rank/outdegree) per edge and (src, 0)
//	              -> CombinePerKey(sum)                    sums
//	last round: ParDo(writeRanksFn) writes each node's rank into the
//	            bundle's part file, as a job's reduce does
//
// The semantics are the rank stage's: every node starts at rank 1, a
// repeated edge counts as many times as it appears, a dangling node passes
// its rank to no one, and every node of an edge is in the output, a node
// without in-edges at rank 0.15. The (src, 0) share keeps such a node in
// every round's sums. The sums add the shares in another order than the
// local engine does, so ranks agree to about 1e-15, not bit for bit.
//
// Beam keeps no partitioned state between transforms: each round's
// CoGroupByKey shuffles the graph again (all the edges, not only the
// ranks), which is the price of the portable form (docs/scale-out.md).
// Every node's key is the pipeline's key encoding of its id (8 bytes,
// big-endian); a links value is its targets' keys end to end.

func init() {
	register.DoFn3x1[[]byte, func(*[]byte) bool, func([]byte, []byte), error](&linksFn{})
	register.DoFn3x0[[]byte, []byte, func([]byte, float64)](&firstSpreadFn{})
	register.DoFn4x1[[]byte, func(*[]byte) bool, func(*float64) bool, func([]byte, float64), error](&spreadFn{})
	register.Combiner1[float64](&sumFn{})
	register.DoFn4x1[context.Context, []byte, float64, func(string), error](&writeRanksFn{})
	register.Emitter2[[]byte, float64]()
	register.Iter1[float64]()
}

// nodeKeyBytes is the length of a node's key (mapreduce.OrderedUintCodec).
const nodeKeyBytes = 8

var nodeKeys = mapreduce.KeyCodecFor[uint64]()

// nodeValues decodes the read stage's target ids; found once here rather
// than by reflection for every source node in linksFn.
var nodeValues = mapreduce.ValueCodecFor[uint64]()

// isPageRank says whether p is translated by translatePageRank rather than
// stage by stage.
func isPageRank(p *pipeline.Pipeline) bool { return p == pagerank.Pipeline }

// translatePageRank adds PageRank's unrolled rounds to the pipeline after
// its read stage, whose tagged pairs are read, and returns the manifest
// lines of the output's bundles.
func (pl *Plan) translatePageRank(s beam.Scope, read beam.PCollection) (beam.PCollection, error) {
	rounds, err := pagerank.Iterations(pl.cfg.Params)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if len(pl.stages) != 1 || len(pl.stages[0].Makes) != 1 {
		return beam.PCollection{}, fmt.Errorf("beamjob: pagerank has %d read stages, want one that makes the edges", len(pl.stages))
	}
	edges := beam.ParDo(s.Scope("links"), &selectFn{Coll: pl.stages[0].Makes[0]}, read)
	links := beam.ParDo(s.Scope("links"), &linksFn{}, beam.GroupByKey(s.Scope("links"), edges))
	var sums beam.PCollection
	for r := 1; r <= rounds; r++ {
		scope := s.Scope(fmt.Sprintf("round%d", r))
		var shares beam.PCollection
		if r == 1 {
			shares = beam.ParDo(scope, &firstSpreadFn{}, links)
		} else {
			shares = beam.ParDo(scope, &spreadFn{Round: r}, beam.CoGroupByKey(scope, links, sums))
		}
		sums = beam.CombinePerKey(scope, &sumFn{}, shares)
	}
	return beam.ParDo(s.Scope("write"), &writeRanksFn{Pipeline: pl.pipe.Name, Dir: pl.tmp, Run: pl.run,
		OutputFormat: pl.opts.Format.String(), OutputCompression: pl.opts.Compression.String()}, sums), nil
}

// rankOf is a node's rank from the sum of the shares it received, as the
// rank stage computes it.
func rankOf(sum float64) float64 { return (1 - pagerank.Damping) + pagerank.Damping*sum }

// linksFn lays out one source's out-edges: its targets' keys end to end,
// a repeated edge as many times as it appears.
type linksFn struct{}

// ProcessElement packs the targets of src, whose values are the read
// stage's encoded node ids.
func (f *linksFn) ProcessElement(src []byte, dsts func(*[]byte) bool, emit func([]byte, []byte)) error {
	if len(src) != nodeKeyBytes {
		return fmt.Errorf("beamjob: pagerank: a node key of %d bytes, want %d", len(src), nodeKeyBytes)
	}
	var targets []byte
	var v []byte
	for dsts(&v) {
		dst, err := nodeValues.Decode(v)
		if err != nil {
			return fmt.Errorf("beamjob: pagerank: edge from %x: %w", src, err)
		}
		targets = nodeKeys.Append(targets, dst)
	}
	emit(src, targets)
	return nil
}

// spread emits a source's shares of rank: rank/outdegree to each target,
// once per edge, and 0 to itself, so that a node without in-edges still
// has a sum, and so a rank, in the next round.
func spread(src, targets []byte, rank float64, emit func([]byte, float64)) {
	emit(src, 0)
	share := rank / float64(len(targets)/nodeKeyBytes) // a source has an edge
	for i := 0; i < len(targets); i += nodeKeyBytes {
		emit(targets[i:i+nodeKeyBytes:i+nodeKeyBytes], share)
	}
}

// firstSpreadFn is round 1: every rank is 1.
type firstSpreadFn struct{}

// ProcessElement spreads one source's rank of 1.
func (f *firstSpreadFn) ProcessElement(src, targets []byte, emit func([]byte, float64)) {
	spread(src, targets, 1, emit)
}

// spreadFn is a later round: a node's rank comes from the sum of the shares
// it received in the round before.
type spreadFn struct {
	Round int
}

// ProcessElement spreads the rank of one node with out-edges; a node
// without out-edges (dangling) passes its rank to no one.
func (f *spreadFn) ProcessElement(node []byte, links func(*[]byte) bool, sums func(*float64) bool, emit func([]byte, float64)) error {
	var targets []byte
	if !links(&targets) {
		return nil
	}
	if links(new([]byte)) {
		return fmt.Errorf("beamjob: pagerank round %d: node %x has two lists of links", f.Round, node)
	}
	var sum float64
	if !sums(&sum) {
		// spread sends every source a share of 0 each round.
		return fmt.Errorf("beamjob: pagerank round %d: node %x has no rank from round %d", f.Round, node, f.Round-1)
	}
	spread(node, targets, rankOf(sum), emit)
	return nil
}

// sumFn adds up the shares of a node's rank.
type sumFn struct{}

// MergeAccumulators adds two partial sums.
func (sumFn) MergeAccumulators(a, b float64) float64 { return a + b }

// writeRanksFn writes the nodes' ranks after the last round into one part
// file per bundle under Dir (the output's _temporary, a directory or an
// object prefix: stagePart) and emits its manifest line when the bundle
// finishes, as reduceBase does for a job.
type writeRanksFn struct {
	Pipeline                        string
	Dir                             string
	OutputFormat, OutputCompression string
	// Run is the job run's id, under which a part bound for an object
	// store is staged (scratch).
	Run string

	p    *pipeline.Pipeline
	opts output.Options
	out  pipeline.OutputPart
	w    rankWriter
	part *stagedPart
}

// rankWriter is the pagerank pipeline's output part: node ids and ranks.
type rankWriter interface {
	Write(node uint64, rank float64) error
}

// Setup finds the pipeline and parses the output options.
func (f *writeRanksFn) Setup() error {
	p, ok := pipeline.Lookup(f.Pipeline)
	if !ok {
		return fmt.Errorf("%w: pipeline %q (is its package imported by this binary?)", ErrUnknownJob, f.Pipeline)
	}
	f.p = p
	var err error
	f.opts, err = outputOptions(f.OutputFormat, f.OutputCompression)
	return err
}

// StartBundle drops the part file of a failed bundle, if this instance
// held one.
func (f *writeRanksFn) StartBundle(_ context.Context, _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement writes one node's rank from the last round's sum.
func (f *writeRanksFn) ProcessElement(_ context.Context, node []byte, sum float64, _ func(string)) error {
	if f.out == nil {
		part, err := stagePart(f.Run, f.Dir, "part-"+randomName()+f.opts.Ext())
		if err != nil {
			return err
		}
		out, err := f.p.CreateOutput(part.Path, f.opts)
		if err != nil {
			part.discard()
			return fmt.Errorf("beamjob: pagerank: %w", err)
		}
		w, ok := out.(rankWriter)
		if !ok {
			out.Abort()
			part.discard()
			return fmt.Errorf("beamjob: pagerank's output is %T, not node ids and ranks", out)
		}
		f.out, f.w, f.part = out, w, part
	}
	id, err := nodeKeys.Decode(node)
	if err != nil {
		return fmt.Errorf("beamjob: pagerank: node key %x: %w", node, err)
	}
	if err := f.w.Write(id, rankOf(sum)); err != nil {
		name := f.part.name
		f.abort()
		return fmt.Errorf("beamjob: pagerank: write %s: %w", name, err)
	}
	return nil
}

// FinishBundle closes the part and emits its manifest line, the only sign
// by which the launcher commits it.
func (f *writeRanksFn) FinishBundle(ctx context.Context, lines func(string)) error {
	if f.out == nil {
		return nil
	}
	out, part := f.out, f.part
	f.out, f.w, f.part = nil, nil, nil
	if err := out.Close(); err != nil {
		out.Abort()
		part.discard()
		return fmt.Errorf("beamjob: pagerank: close %s: %w", part.name, err)
	}
	if err := part.publish(ctx); err != nil {
		return fmt.Errorf("beamjob: pagerank: %w", err)
	}
	counters := mapreduce.Counters{mapreduce.ReduceOutputRecords: out.Records(), mapreduce.OutputBytes: out.Bytes()}
	all := mapreduce.Counters{}
	flushCounters(ctx, counters, all)
	line, err := manifestLine(part.name, all)
	if err != nil {
		return err
	}
	lines(line)
	return nil
}

func (f *writeRanksFn) abort() {
	if f.out != nil {
		f.out.Abort()
		f.out, f.w = nil, nil
	}
	if f.part != nil {
		f.part.discard()
		f.part = nil
	}
}

// Teardown removes the part file of a bundle that failed.
func (f *writeRanksFn) Teardown() error {
	f.abort()
	return nil
}
