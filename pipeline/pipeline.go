// Package pipeline runs programs of many MapReduce stages as one job: word
// count then top-k, PageRank's twenty rounds. Stages are chained in Go with
// their key and value types checked by the compiler, and the data between
// two stages never becomes text: a stage's tasks write it as Quern's own
// binary run files (package spill), partitioned for the next stage's
// reducers, which merge them as any reducer merges map output.
//
// A pipeline is built once, at package init, by a function that receives
// the *Pipeline and adds stages to it through the generic functions of this
// package:
//
//	var WordCount = pipeline.Register("topwords", "…", nil, func(p *pipeline.Pipeline) {
//		words := pipeline.Read(p, "split", splitWords)                  // map over the input files
//		counts := pipeline.ReduceByKey(words, "count", sum)            // group by word
//		top := pipeline.Map(counts, "invert", invert)                  // runs inside count's reducer
//		pipeline.Output(pipeline.Reduce(top, "top", firstK))          // the job's part files
//	})
//
// A Collection[K, V] is a typed handle on the pairs one stage makes for the
// next; the functions that consume it only accept functions of matching
// types. How the stages run (which fuse, which shuffle) is in
// docs/architecture.md, "Pipelines".
package pipeline

import (
	"encoding"
	"fmt"
	"iter"
	"reflect"
	"sort"
	"sync"
	"unsafe"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/spill"
)

// Pipeline is a registered graph of stages. Build it in the function given
// to Register; after that it is read-only.
type Pipeline struct {
	Name        string
	Description string
	Params      []mapreduce.Param

	stages []*stage
	colls  []*collection
	loops  []*loop
	output *collection
	// columns names the output's value columns from the input files
	// (OutputColumns).
	columns func(param func(string) string, files []input.File) ([]string, error)
	// checkParams is CheckParams's fn, or nil.
	checkParams func(param func(name string) string) error
	// warnCounters are WarnCounters's.
	warnCounters map[string]string
	// building is the loop whose body is being built, if any.
	building *loop
	err      error
}

// stageKind says where a stage's input comes from.
type stageKind int

const (
	// readStage maps the job's input files (map tasks over splits).
	readStage stageKind = iota
	// groupStage groups one or more collections by key (reduce tasks,
	// one per partition).
	groupStage
	// stateKind keeps a state per partition over rounds (state.go).
	stateKind
)

// stage is one set of tasks: a map over the input, or a group by key of
// its input collections.
type stage struct {
	index  int
	name   string
	kind   stageKind
	inputs []*collection // group stages: the grouped collections, in order
	loop   *loop         // the loop whose body holds the stage, or nil
	// keep, when set, picks the input files a read stage reads
	// (ReadFiles); nil reads them all.
	keep func(params map[string]string, file string) (bool, error)
	// lines: the read stage reads records as lines of text (ReadLines).
	lines bool
	// readFunc (read stages) and groupFunc (group stages) bind the stage's
	// typed function to one running task.
	readFunc  func(rt *taskAttempt) func(mapreduce.Record) error
	groupFunc func(rt *taskAttempt) func(key []byte, values []iter.Seq[[]byte]) error
	state     *stateStage // state stages only
}

// collection is the pairs a stage emits for its consumers.
type collection struct {
	index    int
	name     string
	producer *stage // nil for a loop variable
	// sameKey: every pair's key is the key of the group it was emitted
	// for, so the pairs are already partitioned and sorted for a consumer
	// that groups by that key: no shuffle (a narrow dependency).
	sameKey bool
	// taps are the fused maps fed by this collection's pairs inside the
	// producer's tasks.
	taps      []*collection
	consumers []*stage
	output    bool
	loopVar   *loop // set on a loop's variable
	carries   *loop // set on a loop's init and next, which become its variable
	keyType   string
	valueType string
	// bind returns the func(K, V) that feeds this collection in a task:
	// it writes the pair if the collection is stored and passes it to the
	// taps. feed (taps only) returns the func of the parent's types that
	// runs the tap's map function.
	bind func(rt *taskAttempt) any
	feed func(rt *taskAttempt) any
	// combiner, when set, is the func(a, b V) V that merges values of
	// equal keys before they are written (Combine).
	combiner any
	// createOutput opens a part file in the collection's types.
	createOutput func(path string, opts output.Options) (outputWriter, error)
	// writeMerged writes the encoded pairs of a sorted iterator as a file
	// in the collection's types (merge.go).
	writeMerged func(dst string, pairs spill.Iterator, opts output.Options) error
}

// stored reports whether the collection is written as runs: some stage
// reads it, or a loop carries it from round to round.
func (c *collection) stored() bool { return len(c.consumers) > 0 || c.carries != nil }

// outputWriter is a part file of the pipeline's output.
type outputWriter interface {
	Records() int64
	Bytes() int64
	Close() error
	Abort()
}

// loop is a group of stages run a number of rounds, each round's carried
// collection (next) becoming the next round's loop variable.
type loop struct {
	name    string
	carried *collection // the loop variable the body reads
	init    *collection // what carried is in round 1
	next    *collection // what the body makes for the next round
	stages  []*stage
	spec    Loop
}

// Loop says how many rounds an Iterate runs.
type Loop struct {
	// Rounds returns the number of rounds from the job's parameters; 0
	// rounds make Iterate's result its initial collection.
	Rounds func(params map[string]string) (int, error)
	// Until, when set, ends the loop early after a round whose counters
	// (the sum over the round's tasks) satisfy it: a convergence test.
	Until func(round int, counters mapreduce.Counters) bool
}

// Collection is a typed handle on the key/value pairs one stage makes for
// the stages that read it.
type Collection[K, V any] struct {
	p *Pipeline
	c *collection
}

var registry = struct {
	sync.RWMutex
	pipelines map[string]*Pipeline
}{pipelines: map[string]*Pipeline{}}

// Register builds a pipeline with build and registers it by name. Call it
// from a package-level var or init, never conditionally, so that the worker
// processes (which start from the same binary but do not run main) know it
// too. It panics on a programming error: a duplicate name, a name that a
// MapReduce job has, a stage built wrongly.
func Register(name, description string, params []mapreduce.Param, build func(p *Pipeline)) *Pipeline {
	p := &Pipeline{Name: name, Description: description, Params: params}
	build(p)
	if p.err == nil && p.output == nil {
		p.err = fmt.Errorf("pipeline %q has no Output", name)
	}
	if p.err != nil {
		panic(p.err)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.pipelines[name]; dup {
		panic(fmt.Sprintf("pipeline: %q registered twice", name))
	}
	if _, job := mapreduce.Lookup(name); job {
		panic(fmt.Sprintf("pipeline: %q is already the name of a MapReduce job", name))
	}
	registry.pipelines[name] = p
	return p
}

// Lookup returns the registered pipeline with the given name.
func Lookup(name string) (*Pipeline, bool) {
	registry.RLock()
	defer registry.RUnlock()
	p, ok := registry.pipelines[name]
	return p, ok
}

// All lists the registered pipelines by name.
func All() []*Pipeline {
	registry.RLock()
	defer registry.RUnlock()
	var out []*Pipeline
	for _, p := range registry.pipelines {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Pipeline) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("pipeline %q: "+format, append([]any{p.Name}, args...)...)
	}
}

func (p *Pipeline) addStage(name string, kind stageKind, inputs ...*collection) *stage {
	s := &stage{index: len(p.stages), name: name, kind: kind, inputs: inputs, loop: p.building}
	for _, in := range inputs {
		if in.producer == nil && in.loopVar == nil {
			p.fail("stage %q reads collection %q, which no stage makes", name, in.name)
		}
		in.consumers = append(in.consumers, s)
	}
	p.stages = append(p.stages, s)
	if p.building != nil {
		p.building.stages = append(p.building.stages, s)
	}
	return s
}

// newCollection makes the collection a stage (or a fused map) emits into.
func newCollection[K, V any](p *Pipeline, name string, producer *stage, sameKey bool) Collection[K, V] {
	keys := mapreduce.KeyCodecFor[K]()
	if keys == nil {
		p.fail("collection %q: key type %s has no order-preserving codec", name, reflect.TypeFor[K]())
	}
	values := valueCodec[V]()
	c := &collection{
		index: len(p.colls), name: name, producer: producer, sameKey: sameKey,
		keyType: reflect.TypeFor[K]().String(), valueType: reflect.TypeFor[V]().String(),
	}
	c.bind = func(rt *taskAttempt) any {
		var sinks []func(K, V)
		if w := rt.writers[c.index]; w != nil {
			var kb, vb []byte
			write := func(k K, v V) {
				kb = keys.Append(kb[:0], k)
				vb = values.Append(vb[:0], v)
				w.add(kb, vb)
			}
			if fn, ok := c.combiner.(func(a, b V) V); ok {
				write = combining(rt, w, keys, values, fn)
			}
			sinks = append(sinks, write)
		}
		if c.output && rt.out != nil {
			w := rt.out.(output.Writer[K, V])
			sinks = append(sinks, func(k K, v V) {
				if err := w.Write(k, v); err != nil {
					rt.fail(err) // it names the output and the record
				}
			})
		}
		if c.output && rt.merge != nil {
			var kb, vb []byte
			sinks = append(sinks, func(k K, v V) {
				kb = keys.Append(kb[:0], k)
				vb = values.Append(vb[:0], v)
				if rt.merge.Emit(kb, vb); rt.merge.Err() != nil {
					rt.fail(rt.merge.Err())
				}
			})
		}
		for _, t := range c.taps {
			sinks = append(sinks, t.feed(rt).(func(K, V)))
		}
		switch len(sinks) {
		case 0:
			return func(K, V) {}
		case 1:
			return sinks[0]
		}
		return func(k K, v V) {
			for _, s := range sinks {
				s(k, v)
			}
		}
	}
	c.createOutput = func(path string, opts output.Options) (outputWriter, error) {
		return output.Create[K, V](path, opts)
	}
	c.writeMerged = func(dst string, pairs spill.Iterator, opts output.Options) error {
		return writeDecoded(dst, pairs, opts, keys, values)
	}
	p.colls = append(p.colls, c)
	return Collection[K, V]{p: p, c: c}
}

// Read adds a stage that maps the job's input records to pairs: the map
// tasks of a MapReduce job. The pairs are partitioned by key for the stage
// that groups them.
func Read[K, V any](p *Pipeline, name string, fn func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(K, V)) error) Collection[K, V] {
	s := p.addStage(name, readStage)
	if s.loop != nil {
		p.fail("stage %q: Read inside a loop body; read the input before the loop", name)
	}
	out := newCollection[K, V](p, name, s, false)
	s.readFunc = func(rt *taskAttempt) func(mapreduce.Record) error {
		emit := out.c.bind(rt).(func(K, V))
		if mapreduce.SkipLimit(rt.tc) > 0 {
			return skipping(rt.tc, fn, emit)
		}
		return func(rec mapreduce.Record) error { return fn(rt.tc, rec, emit) }
	}
	return out
}

// skipping is a read stage's function in a retry attempt that may skip bad
// records (Config.SkipBadRecords), as a job's map task does: the pairs fn
// emits for a record are held back, encoded, until it returns, so that a
// record on which fn fails or panics is dropped whole (mapreduce.SkipRecord
// reports it) and the task goes on, up to the skip limit. Only retries pay
// for the holding.
func skipping[K, V any](tc *mapreduce.TaskContext, fn func(*mapreduce.TaskContext, mapreduce.Record, func(K, V)) error, emit func(K, V)) func(mapreduce.Record) error {
	keys, values := mapreduce.KeyCodecFor[K](), valueCodec[V]()
	var held [][2][]byte
	n := 0
	hold := func(k K, v V) {
		if n == len(held) {
			held = append(held, [2][]byte{})
		}
		held[n][0] = keys.Append(held[n][0][:0], k)
		held[n][1] = values.Append(held[n][1][:0], v)
		n++
	}
	try := func(rec mapreduce.Record) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return fn(tc, rec, hold)
	}
	return func(rec mapreduce.Record) error {
		n = 0
		if err := try(rec); err != nil {
			return mapreduce.SkipRecord(tc, rec.File, rec.Offset, err)
		}
		for _, kv := range held[:n] {
			k, err := keys.Decode(kv[0])
			if err != nil {
				return err
			}
			v, err := values.Decode(kv[1])
			if err != nil {
				return err
			}
			emit(k, v)
		}
		return nil
	}
}

// ReadFiles is Read over some of the job's input files: those for which
// keep returns true, given the job's parameters (a join reads its left
// side's files in one stage and its right side's in another; the two
// stages run side by side). An error from keep (a file that belongs to no
// side) fails the pipeline before any task runs, as a configuration error
// naming the file.
func ReadFiles[K, V any](p *Pipeline, name string, keep func(params map[string]string, file string) (bool, error),
	fn func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(K, V)) error) Collection[K, V] {
	out := Read(p, name, fn)
	out.c.producer.keep = keep
	return out
}

// ReadLines is Read for a function that reads each record's Value as a line
// of text and never its Fields (an edge list, a word count): a .csv or
// .tsv file is read as text, its first line a record like the others,
// rather than as CSV or TSV with a header (mapreduce.Job.LineInput says
// more). --input-format, when given, decides for every file.
func ReadLines[K, V any](p *Pipeline, name string, fn func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(K, V)) error) Collection[K, V] {
	out := Read(p, name, fn)
	out.c.producer.lines = true
	return out
}

// Map adds a map step over a collection's pairs. It is not a stage of its
// own: it runs inside the tasks of the stage that makes in (a map after a
// reduce runs in the reducer), so its input is never written.
func Map[K, V, K2, V2 any](in Collection[K, V], name string, fn func(tc *mapreduce.TaskContext, k K, v V, emit func(K2, V2)) error) Collection[K2, V2] {
	p := in.p
	if in.c.producer == nil {
		p.fail("Map %q over loop variable %q: map inside the stage that reads it instead", name, in.c.name)
	}
	out := newCollection[K2, V2](p, name, in.c.producer, false)
	out.c.feed = func(rt *taskAttempt) any {
		emit := out.c.bind(rt).(func(K2, V2))
		return func(k K, v V) {
			if err := fn(rt.tc, k, v, emit); err != nil {
				rt.fail(fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	in.c.taps = append(in.c.taps, out.c)
	return out
}

// Combine declares that the values of one key in c may be merged with fn
// before they are written: fn must be associative and commutative (a sum, a
// maximum), because it is applied to any subset of a key's values, in any
// order, any number of times (including none). The tasks that make c then
// hold a table of the keys they have seen (by their encoding, in the
// combiner's hash table of mapreduce jobs, internal/kvtable), and write one
// pair per key whenever the table passes half the sort buffer and at the
// task's end: for PageRank's shares, one pair per target node and task
// instead of one per edge. It returns c.
func Combine[K, V any](c Collection[K, V], fn func(a, b V) V) Collection[K, V] {
	switch {
	case c.c.sameKey:
		c.p.fail("Combine %q: a ByKey stage's output has one group per key already", c.c.name)
	case c.c.loopVar != nil:
		c.p.fail("Combine %q: combine the collection the loop body returns, not the loop variable", c.c.name)
	case c.c.combiner != nil:
		c.p.fail("Combine %q: combined twice", c.c.name)
	}
	c.c.combiner = fn
	return c
}

// combining returns the func that feeds a combined collection's writer:
// the combining table of mapreduce's map tasks (mapreduce.NewCombiner), a
// table from encoded keys to values of half the sort buffer, flushed into
// the writer (and the writer spilled) when full and when the task's input
// ends.
func combining[K, V any](rt *taskAttempt, w runWriter, keys mapreduce.Codec[K], values mapreduce.Codec[V], fn func(a, b V) V) func(K, V) {
	emit, finish, release := mapreduce.NewCombiner(keys, values, fn, runOutput{w}, rt.tc.Counters(), rt.spec.SortBuffer/2, rt.fail)
	finished := false
	rt.finishers = append(rt.finishers, func() {
		finished = true
		finish()
	})
	rt.releasers = append(rt.releasers, func() {
		if !finished {
			release()
		}
	})
	return emit
}

// runOutput is a collection's writer as the MapOutput a combining table
// flushes into.
type runOutput struct{ w runWriter }

func (o runOutput) Emit(key, value []byte) { o.w.add(key, value) }

// Spill writes what the writer holds as a run, if it sorts: the table and
// the sort buffer never both hold their budget.
func (o runOutput) Spill() {
	if s, ok := o.w.(interface{ spill() }); ok {
		s.spill()
	}
}

// Budget is not used: the table's budget is given to NewCombiner.
func (o runOutput) Budget() int64 { return 0 }

// Reduce adds a stage that groups in by key and calls fn once per key, in
// key order within a partition, with the key's values. The values are
// streamed from the runs: iterate once. What fn emits is partitioned by
// its key for the next stage (a shuffle).
func Reduce[K, V, K2, V2 any](in Collection[K, V], name string, fn func(tc *mapreduce.TaskContext, k K, values iter.Seq[V], emit func(K2, V2)) error) Collection[K2, V2] {
	p := in.p
	s := p.addStage(name, groupStage, in.c)
	out := newCollection[K2, V2](p, name, s, false)
	s.groupFunc = groupFunc1(in, out, func(rt *taskAttempt, emit func(K2, V2)) func(K, iter.Seq[V]) error {
		return func(k K, vs iter.Seq[V]) error { return fn(rt.tc, k, vs, emit) }
	})
	return out
}

// ReduceByKey is Reduce whose output keeps the group's key: fn emits values
// only. Its output is therefore already partitioned and sorted by key, and
// a stage that groups it by that key reads it without a shuffle (each of
// its reducers reads the one run of the same partition).
func ReduceByKey[K, V, V2 any](in Collection[K, V], name string, fn func(tc *mapreduce.TaskContext, k K, values iter.Seq[V], emit func(V2)) error) Collection[K, V2] {
	p := in.p
	s := p.addStage(name, groupStage, in.c)
	out := newCollection[K, V2](p, name, s, true)
	s.groupFunc = groupFunc1(in, out, func(rt *taskAttempt, emit func(K, V2)) func(K, iter.Seq[V]) error {
		var key K
		emitValue := func(v V2) { emit(key, v) }
		return func(k K, vs iter.Seq[V]) error {
			key = k
			return fn(rt.tc, k, vs, emitValue)
		}
	})
	return out
}

// CoGroup adds a stage that groups two collections by their common key
// (Beam's CoGroupByKey): fn is called once per key present in either, with
// each collection's values for it (an empty sequence for a collection
// without the key).
func CoGroup[K, A, B, K2, V2 any](a Collection[K, A], b Collection[K, B], name string,
	fn func(tc *mapreduce.TaskContext, k K, as iter.Seq[A], bs iter.Seq[B], emit func(K2, V2)) error) Collection[K2, V2] {
	p := a.p
	s := p.addStage(name, groupStage, a.c, b.c)
	out := newCollection[K2, V2](p, name, s, false)
	s.groupFunc = groupFunc2(a, b, out, func(rt *taskAttempt, emit func(K2, V2)) func(K, iter.Seq[A], iter.Seq[B]) error {
		return func(k K, as iter.Seq[A], bs iter.Seq[B]) error { return fn(rt.tc, k, as, bs, emit) }
	})
	return out
}

// CoGroupByKey is CoGroup whose output keeps the group's key, as
// ReduceByKey's does: no shuffle before a stage that groups it by key.
func CoGroupByKey[K, A, B, V2 any](a Collection[K, A], b Collection[K, B], name string,
	fn func(tc *mapreduce.TaskContext, k K, as iter.Seq[A], bs iter.Seq[B], emit func(V2)) error) Collection[K, V2] {
	p := a.p
	s := p.addStage(name, groupStage, a.c, b.c)
	out := newCollection[K, V2](p, name, s, true)
	s.groupFunc = groupFunc2(a, b, out, func(rt *taskAttempt, emit func(K, V2)) func(K, iter.Seq[A], iter.Seq[B]) error {
		var key K
		emitValue := func(v V2) { emit(key, v) }
		return func(k K, as iter.Seq[A], bs iter.Seq[B]) error {
			key = k
			return fn(rt.tc, k, as, bs, emitValue)
		}
	})
	return out
}

// Output makes c the pipeline's result: the stage that makes it writes it
// as the job's part files, one per partition, in the job's output format.
// c must be made by a stage that groups (its tasks are the partitions).
func Output[K, V any](c Collection[K, V]) {
	p := c.p
	switch {
	case p.output != nil:
		p.fail("two Outputs (%q and %q)", p.output.name, c.c.name)
	case c.c.producer == nil || c.c.producer.kind == readStage:
		p.fail("Output %q: the output must come from a stage that groups (Reduce, CoGroup, Stateful, or a Map after one)", c.c.name)
	case c.c.producer.loop != nil:
		p.fail("Output %q: the output must come from a stage after the loop", c.c.name)
	}
	c.c.output = true
	p.output = c.c
}

// CheckParams has fn check the pipeline's parameters (those given, and the
// defaults of the rest) before its input is planned or any stage runs, as
// mapreduce.Job.CheckParams does for a job: an error fails the pipeline at
// once as a configuration error, where a value no record can make right
// would otherwise fail every task of a stage in every attempt.
func CheckParams(p *Pipeline, fn func(param func(name string) string) error) {
	p.checkParams = fn
}

// WarnCounters names counters that the pipeline's functions add to for
// input they read in a way the user may not expect, each with what to tell
// them, as mapreduce.Job.WarnCounters does for a job: a pipeline that ends
// with one of them above zero warns, with the count.
func WarnCounters(p *Pipeline, warnings map[string]string) {
	p.warnCounters = warnings
}

// OutputColumns names the columns of the output's values after the input
// files, as mapreduce.Job.ColumnsFromInput does for a job: fn gets the
// job's parameters and every file a read stage reads, while the pipeline
// is planned, and returns the names (output.Options.ValueColumns) of a
// []string value's columns in JSON lines, Parquet and Arrow output, or nil
// for one list column. An error fails the pipeline before any task runs.
func OutputColumns(p *Pipeline, fn func(param func(string) string, files []input.File) ([]string, error)) {
	p.columns = fn
}

// Iterate runs the stages that body adds a number of rounds (spec.Rounds,
// or until spec.Until holds): round 1 reads init as the loop variable, and
// each later round reads the collection body returned in the round before.
// It returns that collection as of the last round (init if there were no
// rounds).
//
// Collections made before the loop and read in body (PageRank's graph) are
// made once and kept until the loop ends; each round writes and shuffles
// only what body makes. body must add at least one stage, and only stages
// that group (the input files are read before the loop).
func Iterate[K, V any](name string, init Collection[K, V], spec Loop, body func(Collection[K, V]) Collection[K, V]) Collection[K, V] {
	p := init.p
	if p.building != nil {
		p.fail("loop %q inside loop %q: loops do not nest", name, p.building.name)
		return init
	}
	if spec.Rounds == nil {
		p.fail("loop %q: Loop.Rounds is not set", name)
		return init
	}
	l := &loop{name: name, init: init.c, spec: spec}
	carried := newCollection[K, V](p, name, nil, init.c.sameKey)
	carried.c.loopVar = l
	l.carried = carried.c
	p.building = l
	next := body(carried)
	p.building = nil
	l.next = next.c
	switch {
	case len(l.stages) == 0:
		p.fail("loop %q: the body adds no stage", name)
	case next.c.producer == nil || next.c.producer.loop != l:
		p.fail("loop %q: the body must return a collection one of its stages makes", name)
	}
	init.c.carries, next.c.carries = l, l
	p.loops = append(p.loops, l)
	return next
}

// groupFunc1 binds a one-input typed stage function to a task: bind is
// called once per task with the task's emit, and what it returns once per
// group. Everything made per task rather than per group (the stage
// function's closure, the values' iterator): a group of one value costs
// no allocation beyond its key's decode and the user function's own, where
// three closures and an error a group were over half the time of
// topwords' count stage on 6.8 million distinct words.
func groupFunc1[K, V, K2, V2 any](in Collection[K, V], out Collection[K2, V2],
	bind func(rt *taskAttempt, emit func(K2, V2)) func(K, iter.Seq[V]) error) func(rt *taskAttempt) func([]byte, []iter.Seq[[]byte]) error {
	keys, values := mapreduce.KeyCodecFor[K](), valueCodec[V]()
	return func(rt *taskAttempt) func([]byte, []iter.Seq[[]byte]) error {
		fn := bind(rt, out.c.bind(rt).(func(K2, V2)))
		var derr error
		vs := newGroupValues(values, &derr)
		decodeKey := keyDecoder(keys)
		return func(key []byte, groups []iter.Seq[[]byte]) error {
			k, err := decodeKey(key)
			if err != nil {
				return fmt.Errorf("decode key %q: %w", key, err)
			}
			vs.current = groups[0]
			err = fn(k, vs.seq)
			vs.current = nil
			if err == nil {
				err = derr
			}
			derr = nil
			return err
		}
	}
}

// groupFunc2 binds a two-input typed stage function to a task, as
// groupFunc1 does.
func groupFunc2[K, A, B, K2, V2 any](a Collection[K, A], b Collection[K, B], out Collection[K2, V2],
	bind func(rt *taskAttempt, emit func(K2, V2)) func(K, iter.Seq[A], iter.Seq[B]) error) func(rt *taskAttempt) func([]byte, []iter.Seq[[]byte]) error {
	if a.c.keyType != b.c.keyType {
		// Unreachable through the typed API; kept as a guard.
		a.p.fail("cogroup of %q and %q: key types %s and %s differ", a.c.name, b.c.name, a.c.keyType, b.c.keyType)
	}
	keys := mapreduce.KeyCodecFor[K]()
	avals, bvals := valueCodec[A](), valueCodec[B]()
	return func(rt *taskAttempt) func([]byte, []iter.Seq[[]byte]) error {
		fn := bind(rt, out.c.bind(rt).(func(K2, V2)))
		var derr error
		as, bs := newGroupValues(avals, &derr), newGroupValues(bvals, &derr)
		decodeKey := keyDecoder(keys)
		return func(key []byte, groups []iter.Seq[[]byte]) error {
			k, err := decodeKey(key)
			if err != nil {
				return fmt.Errorf("decode key %q: %w", key, err)
			}
			as.current, bs.current = groups[0], groups[1]
			err = fn(k, as.seq, bs.seq)
			as.current, bs.current = nil, nil
			if err == nil {
				err = derr
			}
			derr = nil
			return err
		}
	}
}

// keyDecoder decodes the keys of a task's groups. A []byte key is a copy
// that the stage function may keep, as every decoded key is, but copied
// into blocks of keyBlock bytes rather than allocated one by one: over 27
// million distinct words, a key's allocation was a fifth of a count
// stage's allocations, and each drew the garbage collector on sooner.
func keyDecoder[K any](codec mapreduce.Codec[K]) func([]byte) (K, error) {
	if _, ok := any(codec).(mapreduce.BytesCodec); !ok || reflect.TypeFor[K]() != reflect.TypeFor[[]byte]() {
		return codec.Decode
	}
	var block []byte
	return func(b []byte) (K, error) {
		var k []byte // nil for an empty key, as BytesCodec decodes it
		if len(b) > 0 {
			if len(b) > cap(block)-len(block) {
				block = make([]byte, 0, max(keyBlock, len(b)))
			}
			n := len(block)
			block = append(block, b...)
			// Capped: appending to one key cannot overwrite the next.
			k = block[n:len(block):len(block)]
		}
		return *(*K)(unsafe.Pointer(&k)), nil
	}
}

// keyBlock is the size of keyDecoder's blocks: a kept key keeps its block
// alive, so a block is small beside a task's memory.
const keyBlock = 64 << 10

// groupValues decodes the values of the group being called, one group
// after another: a task makes one, and hands its seq to each call. The
// first decode error stops the values and is kept in *derr. Its method
// values are made once, so that iterating a group allocates nothing (a
// range over g.current would make its loop body a closure per group).
type groupValues[V any] struct {
	codec   mapreduce.Codec[V]
	derr    *error
	current iter.Seq[[]byte] // nil between calls
	seq     iter.Seq[V]      // g.values
	decode  func([]byte) bool
	yield   func(V) bool // the iterating loop's, while it runs
}

func newGroupValues[V any](codec mapreduce.Codec[V], derr *error) *groupValues[V] {
	g := &groupValues[V]{codec: codec, derr: derr}
	g.seq, g.decode = g.values, g.decodeOne
	return g
}

func (g *groupValues[V]) values(yield func(V) bool) {
	if g.current == nil {
		panic("pipeline: a group's values iterated after its function returned")
	}
	g.yield = yield
	g.current(g.decode)
	g.yield = nil
}

// decodeOne decodes one value for the loop iterating the group.
func (g *groupValues[V]) decodeOne(b []byte) bool {
	v, err := g.codec.Decode(b)
	if err != nil {
		if *g.derr == nil {
			*g.derr = fmt.Errorf("decode value: %w", err)
		}
		return false
	}
	return g.yield(v)
}

// valueCodec is the codec of a collection's values: the value type's own
// binary encoding when it has one (encoding.BinaryAppender, with
// encoding.BinaryUnmarshaler on its pointer), as a list of node ids should,
// and mapreduce's codec for the type otherwise (JSON for a struct or slice).
func valueCodec[V any]() mapreduce.Codec[V] {
	var v V
	_, appends := any(v).(encoding.BinaryAppender)
	_, unmarshals := any(&v).(encoding.BinaryUnmarshaler)
	if appends && unmarshals {
		return binaryCodec[V]{}
	}
	return mapreduce.ValueCodecFor[V]()
}

// binaryCodec encodes values with their own AppendBinary and
// UnmarshalBinary methods.
type binaryCodec[V any] struct{}

func (binaryCodec[V]) Append(dst []byte, v V) []byte {
	b, err := any(v).(encoding.BinaryAppender).AppendBinary(dst)
	if err != nil {
		// As mapreduce.JSONCodec: a value that cannot encode itself is a
		// programming error in the stage; the task fails loudly.
		panic(fmt.Sprintf("pipeline: %T.AppendBinary: %v", v, err))
	}
	return b
}

func (binaryCodec[V]) Decode(b []byte) (V, error) {
	var v V
	err := any(&v).(encoding.BinaryUnmarshaler).UnmarshalBinary(b)
	return v, err
}
