package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// A state stage keeps a state per partition from round to round, on local
// disk, and lets its partitions send each other messages between rounds,
// with no sort and no grouping: the shape of Pregel, GraphX's cached and
// co-partitioned graphs and bigslice's iterative funcs, for computations
// whose static part (PageRank's graph) is best kept as compact arrays that
// the stage indexes itself, and whose per-round data (the rank shares) is
// best sent as one array per destination partition.
//
// A state stage with n rounds runs n+2 steps of one task per partition:
//
//	step 0     Build: reads the partition's pairs of the input collection
//	           (in no order) and sets the first state; may send messages
//	steps 1..n Step: reads the state and the messages sent in the step
//	           before; may replace the state and send messages
//	step n+1   Finish: reads the state and the last messages, and emits
//	           the stage's output pairs
//
// Each step's tasks commit as any task does (a failed or killed attempt is
// made again from the same committed inputs), and a step starts once every task
// of the one before has committed. States and messages are blob files
// (exchange.go); the driver removes a step's messages, and a replaced
// state, once the next step has committed.

// stateStage is the part of a stage that is a state stage.
type stateStage struct {
	rounds func(params map[string]string) (int, error)
	// run runs one step of one partition in a task.
	run func(ctx context.Context, rt *taskAttempt) error
}

// StateLoop is what a state stage does in each partition; see Stateful.
type StateLoop[K, V, K2, V2 any] struct {
	// Rounds returns the number of Steps from the job's parameters (0 or
	// more).
	Rounds func(params map[string]string) (int, error)
	// Build makes the partition's first state from its pairs of the input
	// collection, which come in no particular order.
	Build func(t *StateTask[K], pairs iter.Seq2[K, V]) error
	// Step runs one round.
	Step func(t *StateTask[K]) error
	// Finish emits the stage's output after the last round. The pairs go
	// to the collection Stateful returns; they should belong to the
	// partition (PartitionOf) if the output is the pipeline's, which is
	// then one part file per partition.
	Finish func(t *StateTask[K], emit func(K2, V2)) error
}

// StateTask is one partition's step of a state stage: its state, the
// messages sent to it in the step before, and its outbox.
type StateTask[K any] struct {
	TC *mapreduce.TaskContext
	// Partition is the task's partition, of Partitions; Round is 0 in
	// Build, 1..Rounds in Step and Rounds+1 in Finish.
	Partition, Partitions int
	Round, Rounds         int
	// Records is the number of pairs Build is given (in Build only): a
	// hint for sizing arrays.
	Records int64

	keys     mapreduce.Codec[K]
	kb       []byte
	state    []byte
	replaced bool
	inbox    [][]byte
	outbox   [][]byte
}

// PartitionOf returns the partition of key k: the one whose task gets k's
// pairs in Build, as in every shuffle of the pipeline.
func (t *StateTask[K]) PartitionOf(k K) int {
	t.kb = t.keys.Append(t.kb[:0], k)
	return shuffle.HashPartitioner{}.Partition(t.kb, t.Partitions)
}

// State is the partition's state as the step before left it (nil in
// Build). Its first byte is 8-byte aligned. It is read-only: the worker
// process may keep it in memory for the partition's next step.
func (t *StateTask[K]) State() []byte { return t.state }

// SetState replaces the partition's state from this step on; a step that
// does not call it keeps the state it read. b must not change afterwards.
func (t *StateTask[K]) SetState(b []byte) { t.state, t.replaced = b, true }

// Received is the message partition from sent to this one in the step
// before, or nil if it sent none. Its first byte is 8-byte aligned.
func (t *StateTask[K]) Received(from int) []byte { return t.inbox[from] }

// Send sends msg to partition to, for its next step; msg must not change
// afterwards. Several Sends to one partition in a step are concatenated.
func (t *StateTask[K]) Send(to int, msg []byte) {
	if t.outbox[to] == nil {
		t.outbox[to] = msg[:len(msg):len(msg)]
		return
	}
	t.outbox[to] = append(t.outbox[to], msg...)
}

// Stateful adds a state stage reading in (see StateLoop and the comment at
// the top of state.go). When every stage that reads in is a state stage,
// in is written unsorted (exchange files), since nothing needs its order.
func Stateful[K, V, K2, V2 any](in Collection[K, V], name string, loop StateLoop[K, V, K2, V2]) Collection[K2, V2] {
	p := in.p
	switch {
	case loop.Rounds == nil || loop.Build == nil || loop.Step == nil || loop.Finish == nil:
		p.fail("state stage %q: Rounds, Build, Step and Finish must all be set", name)
	case p.building != nil:
		p.fail("state stage %q inside loop %q: a state stage is a loop of its own", name, p.building.name)
	}
	s := p.addStage(name, stateKind, in.c)
	out := newCollection[K2, V2](p, name, s, false)
	keys, values := mapreduce.KeyCodecFor[K](), valueCodec[V]()
	s.state = &stateStage{rounds: loop.Rounds}
	s.state.run = func(ctx context.Context, rt *taskAttempt) error {
		spec := rt.spec
		t := &StateTask[K]{TC: rt.tc, Partition: spec.Partition, Partitions: spec.Reducers, Round: spec.Round,
			Rounds: spec.Rounds, Records: spec.Records, keys: keys, inbox: make([][]byte, spec.Reducers), outbox: make([][]byte, spec.Reducers)}
		var err error
		if spec.State != "" {
			if t.state, err = states.read(spec.State, spec.SortBuffer); err != nil {
				// Lost: the driver makes it again (remake.go).
				return &task.FetchFailure{Run: spec.State, Err: err.Error()}
			}
		}
		for from, path := range spec.Messages {
			if path != "" {
				if t.inbox[from], err = readBlob(path); err != nil {
					// Lost: the driver makes it again (remake.go).
					return &task.FetchFailure{Run: path, Err: err.Error()}
				}
			}
		}
		switch {
		case spec.Round == 0:
			var derr error
			var n int64
			pairs := func(yield func(K, V) bool) {
				derr = readUnordered(ctx, spec.Inputs[0], spec.Partition, func(kb, vb []byte) (bool, error) {
					n++
					k, err := keys.Decode(kb)
					if err != nil {
						return false, fmt.Errorf("decode key %q: %w", kb, err)
					}
					v, err := values.Decode(vb)
					if err != nil {
						return false, fmt.Errorf("decode value of key %q: %w", kb, err)
					}
					return yield(k, v), nil
				})
			}
			if err = loop.Build(t, pairs); err == nil {
				err = derr
			}
			rt.tc.Count(mapreduce.ReduceInputRecords, n)
		case spec.Round <= spec.Rounds:
			err = loop.Step(t)
		default:
			err = loop.Finish(t, out.c.bind(rt).(func(K2, V2)))
			for to, msg := range t.outbox {
				if msg != nil && err == nil {
					err = fmt.Errorf("the stage's Finish sent a message to partition %d, which no step reads", to)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("partition %d, round %d: %w", spec.Partition, spec.Round, err)
		}
		return rt.saveState(t.state, t.replaced, t.outbox)
	}
	return out
}

// saveState writes a step's new state (if replaced) and its messages into
// the attempt's directory, for the driver to hand to the next step.
func (rt *taskAttempt) saveState(state []byte, replaced bool, outbox [][]byte) error {
	if replaced {
		path := filepath.Join(rt.spec.Dir, "state.blob")
		n, err := writeBlob(path, state)
		if err != nil {
			return err
		}
		rt.tc.Count(StateBytes, n)
		rt.stateFile = path
		states.keep(path, state, rt.spec.SortBuffer)
	}
	for to, msg := range outbox {
		if msg == nil {
			continue
		}
		if rt.messages == nil {
			rt.messages = make([]string, len(outbox))
		}
		path := filepath.Join(rt.spec.Dir, fmt.Sprintf("to%05d.msg", to))
		n, err := writeBlob(path, msg)
		if err != nil {
			return err
		}
		rt.tc.Count(MessageBytes, n)
		rt.messages[to] = path
	}
	return nil
}

// Counters of state stages.
const (
	// StateBytes counts the bytes of the per-partition states written.
	StateBytes = "state_bytes"
	// MessageBytes counts the bytes of messages sent between partitions.
	MessageBytes = "message_bytes"
)

// readUnordered calls fn with each pair of one partition in segs, run after
// run: exchange files whole, sorted runs' segments in their key order.
func readUnordered(ctx context.Context, segs []shuffle.Segment, partition int, fn func(key, value []byte) (bool, error)) error {
	stop := fmt.Errorf("stopped")
	var n int64
	each := func(k, v []byte) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		more, err := fn(k, v)
		if err == nil && !more {
			err = stop
		}
		return err
	}
	for _, seg := range segs {
		var err error
		if strings.HasSuffix(seg.Path, ".xch") {
			err = readExchange(seg.Path, each)
		} else {
			err = readSegment(seg.Path, partition, each)
		}
		if err == stop {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readSegment calls fn with each pair of partition p of a sorted run.
func readSegment(path string, p int, fn func(key, value []byte) error) error {
	r, err := spill.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	it, err := r.Segment(p)
	if err != nil {
		return err
	}
	for kv := it.Next(); kv != nil; kv = it.Next() {
		if err := fn(kv.Key, kv.Value); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// unsorted reports whether c is written as exchange files: only state
// stages read it, and no loop carries it.
func (c *collection) unsorted() bool {
	if len(c.consumers) == 0 || c.carries != nil {
		return false
	}
	for _, s := range c.consumers {
		if s.state == nil {
			return false
		}
	}
	return true
}

// stateRun is the driver's record of a running state stage.
type stateRun struct {
	rounds int
	// states are each partition's current state file ("" before Build
	// has committed), and inbox[to][from] the messages of the last step.
	states []string
	inbox  [][]string
	// stale are the files the running step replaces, and older those the
	// step before replaced: each step's inputs are kept until the next
	// step has committed, so that a lost message can be made again from
	// them (remake.go).
	stale, older []string
}

// stateRounds checks every state stage's round count.
func (p *Pipeline) stateRounds(params map[string]string) (map[*stage]int, error) {
	out := map[*stage]int{}
	for _, s := range p.stages {
		if s.state == nil {
			continue
		}
		n, err := s.state.rounds(params)
		if err == nil && n < 0 {
			err = fmt.Errorf("%d rounds", n)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: pipeline %s, stage %s: %v", mapreduce.ErrConfig, p.Name, s.name, err)
		}
		out[s] = n
	}
	return out, nil
}

// runStateStage runs a state stage's steps one after another. After each
// step before Finish it saves a checkpoint (below), from which Resume goes
// on with the next step instead of building the state again.
func (d *driver) runStateStage(ctx context.Context, u *unit) error {
	s := u.stages[0]
	d.mu.Lock()
	st := &stateRun{rounds: d.stateRounds[s], states: make([]string, d.cfg.Reducers)}
	d.state[s] = st
	d.mu.Unlock()
	// The inline engine's process keeps no state after the stage, even a
	// failed one.
	defer func() { states.forget(st.states) }()
	first := 0
	if d.resume {
		if cp := d.loadCheckpoint(u); cp != nil {
			d.p.logf(d.cfg.Logger, "state stage resumed after its last committed step", "stage", s.name, "round", cp.Round)
			st.states, st.inbox = cp.States, cp.Inbox
			first = cp.Round + 1
			d.mu.Lock()
			d.stages[s.index] = cp.Report
			d.done[s.index] = cp.Report.Tasks
			d.mu.Unlock()
		}
	}
	for round := first; round <= st.rounds+1; round++ {
		if err := d.runStage(ctx, s, round); err != nil {
			return err
		}
		// The checkpoint names the step's files before the ones they
		// replace are removed: a driver killed in between leaves garbage
		// in the work directory, never a checkpoint of removed files.
		if round <= st.rounds {
			if err := d.saveCheckpoint(u, round, st); err != nil {
				return &StageError{Pipeline: d.p.Name, Stage: s.name, Round: round, Err: fmt.Errorf("save its checkpoint: %w", err)}
			}
		}
		st.removeOlder(d.cfg.KeepWorkDir)
		st.older, st.stale = st.stale, nil
	}
	st.removeOlder(d.cfg.KeepWorkDir)
	d.mu.Lock()
	d.stages[s.index].Rounds = st.rounds
	d.mu.Unlock()
	return nil
}

// removeOlder removes the files the step before the last replaced.
func (st *stateRun) removeOlder(keep bool) {
	if !keep {
		for _, f := range st.older {
			os.Remove(f)
		}
	}
	states.forget(st.older)
	st.older = nil
}

// stateCheckpoint is a state stage's progress, saved in the work
// directory as unit-NN-state.json (NN: the stage's index) after each
// committed step before Finish:
//
//	{"Fingerprint": "9f2c…",                        // the unit's (resume.go)
//	 "Round": 2,                                     // the last committed step; 0 is Build
//	 "States": [".../s01-count-r002/00000-attempt-1/state", …],  // by partition, "" for none
//	 "Inbox": [["…", …], …],                         // Inbox[to][from]: the step's messages
//	 "Report": {"Name": "count", "Tasks": 6, "Counters": {…}, …}}
//
// Resume with the same fingerprint goes on from step Round+1 if every
// file it names is there; otherwise the stage runs from Build.
type stateCheckpoint struct {
	Fingerprint string
	Round       int
	States      []string
	Inbox       [][]string
	Report      StageReport
}

func (d *driver) checkpointPath(u *unit) string {
	return filepath.Join(d.workDir.Path, fmt.Sprintf("unit-%02d-state.json", u.stages[0].index))
}

func (d *driver) saveCheckpoint(u *unit, round int, st *stateRun) error {
	d.mu.Lock()
	cp := stateCheckpoint{Fingerprint: u.fp, Round: round, States: st.states, Inbox: st.inbox, Report: d.stages[u.stages[0].index]}
	b, err := json.Marshal(cp)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return writeRenamed(d.checkpointPath(u), b)
}

// loadCheckpoint returns the unit's checkpoint if a killed run of the same
// fingerprint left one whose files are all there, or nil.
func (d *driver) loadCheckpoint(u *unit) *stateCheckpoint {
	b, err := os.ReadFile(d.checkpointPath(u))
	if err != nil {
		return nil
	}
	var cp stateCheckpoint
	if json.Unmarshal(b, &cp) != nil || cp.Fingerprint != u.fp || len(cp.States) != d.cfg.Reducers ||
		cp.Round < 0 || cp.Round > d.stateRounds[u.stages[0]] {
		return nil
	}
	files := slices.Clone(cp.States)
	for _, from := range cp.Inbox {
		files = append(files, from...)
	}
	for _, f := range files {
		if _, err := os.Stat(f); f != "" && err != nil {
			return nil
		}
	}
	return &cp
}

// states are the state files this process wrote or read lately, kept in
// memory so that a worker that runs a partition's next step (as it often
// does) does not read its state again. A state file is written once and
// never changes, so a kept copy is the file. They hold at most a sort
// buffer's worth of bytes (the task's), the oldest dropped first.
var states stateCache

type stateCache struct {
	mu    sync.Mutex
	bytes int64
	kept  []keptState // oldest first
}

type keptState struct {
	path string
	b    []byte
}

func (c *stateCache) read(path string, budget int64) ([]byte, error) {
	c.mu.Lock()
	for _, k := range c.kept {
		if k.path == path {
			c.mu.Unlock()
			return k.b, nil
		}
	}
	c.mu.Unlock()
	b, err := readBlob(path)
	if err == nil {
		c.keep(path, b, budget)
	}
	return b, err
}

func (c *stateCache) keep(path string, b []byte, budget int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A state a step set from an unaligned slice is read from its file
	// instead, whose payload is aligned as State promises.
	if int64(len(b)) > budget || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return
	}
	c.kept = append(c.kept, keptState{path, b})
	c.bytes += int64(len(b))
	for c.bytes > budget {
		c.bytes -= int64(len(c.kept[0].b))
		c.kept[0] = keptState{}
		c.kept = c.kept[1:]
	}
}

// forget drops the given paths.
func (c *stateCache) forget(paths []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.kept[:0]
	for _, k := range c.kept {
		if !slices.Contains(paths, k.path) {
			kept = append(kept, k)
		} else {
			c.bytes -= int64(len(k.b))
		}
	}
	clear(c.kept[len(kept):])
	c.kept = kept
}

// stateSpec fills in a state stage's task: its state and messages.
func (d *driver) stateSpec(spec *taskSpec, s *stage) {
	st := d.state[s]
	spec.Rounds = st.rounds
	spec.State = st.states[spec.Partition]
	if st.inbox != nil {
		spec.Messages = st.inbox[spec.Partition]
	}
	if spec.Round == 0 {
		for _, r := range d.runs[s.inputs[0]] {
			spec.Records += r.PartitionRecords[spec.Partition]
		}
	}
}

// stateCommitted records a committed step's states and messages, and
// marks the ones they supersede for removal.
func (d *driver) stateCommitted(s *stage, results []taskResult) {
	st := d.state[s]
	for _, from := range st.inbox {
		for _, path := range from {
			if path != "" {
				st.stale = append(st.stale, path)
			}
		}
	}
	st.inbox = make([][]string, d.cfg.Reducers)
	for to := range st.inbox {
		st.inbox[to] = make([]string, d.cfg.Reducers)
	}
	for from, r := range results {
		if r.State != "" {
			if st.states[from] != "" {
				st.stale = append(st.stale, st.states[from])
			}
			st.states[from] = r.State
		}
		for to, path := range r.Messages {
			st.inbox[to][from] = path
		}
	}
}
