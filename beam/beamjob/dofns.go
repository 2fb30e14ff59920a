package beamjob

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/output"
)

// The DoFns below are generic over encoded []byte keys and values: one set
// of types runs every registered job. Each carries the job's name (and its
// parameters) in exported fields, which Beam serialises into the pipeline,
// and looks the job up with mapreduce.LookupByteJob in Setup. The worker
// is the launcher's own binary, so the job registered there at init is the
// job the launcher translated.

func init() {
	register.DoFn4x1[context.Context, []byte, func([]byte, []byte), func(string), error](&mapFn{})
	register.Emitter2[[]byte, []byte]()
	register.Combiner1[[]byte](&combineFn{})
	register.DoFn4x1[context.Context, []byte, func(*[]byte) bool, func(string), error](&reduceGroupsFn{})
	register.Iter1[[]byte]()
	register.DoFn4x1[context.Context, []byte, []byte, func(string), error](&reduceCombinedFn{})
	register.Emitter1[string]()
	register.DoFn1x1[string, error](&manifestFn{})
}

// counterNamespace is the Beam metrics namespace of Quern's counters.
const counterNamespace = "quern"

// arenaChunk is the size of the slabs that hold copies of emitted keys and
// values. Emitted slices must stay unchanged after emit (a fused combiner
// downstream may keep them), so slabs are never reused, only dropped.
const arenaChunk = 256 << 10

// arena hands out immutable copies of byte slices, carved from large slabs,
// so that keeping an emitted pair costs no allocation of its own.
type arena struct{ buf []byte }

func (a *arena) copy(b []byte) []byte {
	if !a.fits(len(b)) {
		return append([]byte(nil), b...)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// pair returns an immutable appendPair(nil, key, value), packed straight
// into the slab.
func (a *arena) pair(key, value []byte) []byte {
	if !a.fits(binary.MaxVarintLen64 + len(key) + len(value)) {
		return appendPair(nil, key, value)
	}
	n := len(a.buf)
	a.buf = appendPair(a.buf, key, value)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// fits makes room for n more bytes in the current slab, or reports that n
// is too large to share one.
func (a *arena) fits(n int) bool {
	if n > arenaChunk/4 {
		return false
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, arenaChunk)
	}
	return true
}

func lookupJob(name string) (mapreduce.ByteJob, error) {
	job, ok := mapreduce.LookupByteJob(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q (is its package imported by this binary?)", ErrUnknownJob, name)
	}
	return job, nil
}

// lookupGrouping looks a job up and returns its secondary sort's Grouping,
// or nil if it has none.
func lookupGrouping(name string) (mapreduce.Grouping, error) {
	job, err := lookupJob(name)
	if err != nil {
		return nil, err
	}
	group, _ := job.(mapreduce.Grouping)
	return group, nil
}

// Counters travel twice. Each bundle adds them to Beam's metrics, for the
// runner's UI; and each bundle that commits emits them, with its part's
// name, to the manifests (manifestLine), from which the launcher sums the
// job's counters. The launcher does not read them back from Beam's
// metrics: Prism 2.77 loses a bundle's metrics when two bundles report a
// counter it has not seen before at once (its metricsStore keeps one
// payload per unknown short id until it learns the id, so the second
// overwrites the first: TestAppsMatchLocalEngine/wordcount's
// reduce_output_records came back 6863 for 8489), and metrics of retried
// bundles count twice on some runners. Emitted elements are committed
// exactly once with their bundle.

// flushCounters adds the counters to Beam's metrics and to into, and
// resets them. ctx must be the one Beam passed to the DoFn method, which
// carries the bundle's metric store.
func flushCounters(ctx context.Context, c, into mapreduce.Counters) {
	for name, v := range c {
		if v != 0 {
			beam.NewCounter(counterNamespace, name).Inc(ctx, v)
		}
	}
	into.Add(c)
	clear(c)
}

// manifestLine is a committed bundle's line in a manifest: its part's
// name ("counters-ID" for a map bundle, which writes no part), a tab, and
// its counters as JSON.
func manifestLine(name string, c mapreduce.Counters) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("beamjob: encode counters of %s: %w", name, err)
	}
	return name + "\t" + string(b), nil
}

// mapCountersPrefix names a map bundle's line in a manifest.
const mapCountersPrefix = "counters-"

func randomName() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// splitSpec is how a split travels through the pipeline: JSON of
// input.Split, which holds only exported plain fields.
func encodeSplit(s input.Split) ([]byte, error) { return json.Marshal(s) }

func decodeSplit(b []byte) (input.Split, error) {
	var s input.Split
	err := json.Unmarshal(b, &s)
	return s, err
}

// absSplit returns s with its file's path made absolute from dir, for a
// worker whose working directory is not the launcher's.
func absSplit(s input.Split, dir string) input.Split {
	if !filepath.IsAbs(s.File.Path) && !objstore.IsURL(s.File.Path) {
		s.File.Path = filepath.Join(dir, s.File.Path)
	}
	return s
}

// mapSplit calls fn with every record of split s, through the read loop of
// the local engine's map tasks (mapreduce.MapSplits), so that a record reads the
// same on both engines (a JSON-lines record's columns among them) and an
// error names the split and the record. The split's file is opened from
// dir (absSplit), but the record's File is the path as the user named it,
// as on the local engine.
//
// A job with a line filter (mapreduce.LineFilter gives its bytes as sub)
// is handed only the lines that hold them, as on the local engine.
func mapSplit(ctx context.Context, s input.Split, dir string, sub []byte, fn func(mapreduce.Record) error) (mapreduce.ReadCounts, error) {
	named := s.File.Path
	return mapreduce.MapSplitsContaining(ctx, input.Task{Splits: []input.Split{absSplit(s, dir)}}, sub, func(rec mapreduce.Record) error {
		rec.File = named
		return fn(rec)
	})
}

// pending is one key's pre-combined value in a map bundle.
type pending struct{ key, val []byte }

// mapFn reads the records of one split per element and runs the job's Map
// on them. For a job with a combiner it pre-combines the bundle's output in
// memory (up to PrecombineBytes) and emits one value per distinct key in
// FinishBundle, which is what keeps Prism's in-memory shuffle small.
type mapFn struct {
	Job             string
	Params          map[string]string
	PrecombineBytes int64
	Dir             string // relative input paths are relative to it

	job     mapreduce.ByteJob
	combine mapreduce.Combiner   // nil when the job has none
	filter  []byte               // the lines Map acts on hold it (mapreduce.LineFilter)
	emit    func([]byte, []byte) // the current call's emitter
	counts  mapreduce.Counters   // bundle counters outside any one split's TaskContext
	emitted int64                // pairs collected since the bundle started, added to counts when it finishes
	bundle  mapreduce.Counters   // the bundle's counters, emitted when it finishes
	arena   arena
	index   map[string]int32
	entries []pending
	size    int64
	err     error // first Combine error of the current record
}

// Setup looks the job up and learns whether it has a combiner.
func (f *mapFn) Setup() error {
	job, err := lookupJob(f.Job)
	if err != nil {
		return err
	}
	f.job = job
	f.combine, _ = job.(mapreduce.Combiner)
	f.filter = mapreduce.LineFilter(job, f.Params)
	f.counts = mapreduce.Counters{}
	f.bundle = mapreduce.Counters{}
	f.index = map[string]int32{}
	return nil
}

// StartBundle drops anything a failed bundle left behind in this instance,
// so that none of it is emitted twice.
func (f *mapFn) StartBundle(_ context.Context, _ func([]byte, []byte), _ func(string)) error {
	clear(f.entries)
	f.entries = f.entries[:0]
	clear(f.index)
	clear(f.counts)
	clear(f.bundle)
	f.size, f.emitted, f.err = 0, 0, nil
	return nil
}

// ProcessElement maps every record of the split encoded in spec.
func (f *mapFn) ProcessElement(ctx context.Context, spec []byte, emit func([]byte, []byte), _ func(string)) error {
	s, err := decodeSplit(spec)
	if err != nil {
		return fmt.Errorf("beamjob: decode split %q: %w", spec, err)
	}
	f.emit = emit
	task := fmt.Sprintf("map-%05d", s.Index)
	tc := mapreduce.NewTaskContext(ctx, f.Job, task, 1, f.Params, slog.Default().With("job", f.Job, "task", task))
	mapper, err := f.job.NewMapper(tc, mapreduce.EmitFunc(f.collect))
	if err != nil {
		return fmt.Errorf("beamjob: %s: %w", task, err)
	}
	read, err := mapSplit(ctx, s, f.Dir, f.filter, func(rec mapreduce.Record) error {
		if err := mapper.Map(rec); err != nil {
			return err
		}
		return f.err
	})
	if err == nil {
		// The end of the split: a mapper that held pairs back emits them.
		if err = mapper.Close(); err == nil {
			err = f.err
		}
		if err != nil {
			err = fmt.Errorf("map %s: %w", s.File.Path, err)
		}
	} else {
		mapper.Abort()
	}
	read.AddTo(tc.Counters())
	if err != nil {
		return fmt.Errorf("beamjob: %s: %w", task, err)
	}
	flushCounters(ctx, tc.Counters(), f.bundle)
	return nil
}

// collect receives one encoded pair from the job's Map. The slices are
// reused by the next call, so they are copied before they are kept or
// emitted.
func (f *mapFn) collect(k, v []byte) {
	f.emitted++
	if f.combine == nil {
		f.emit(f.arena.copy(k), f.arena.copy(v))
		return
	}
	if i, ok := f.index[string(k)]; ok {
		e := &f.entries[i]
		merged, err := f.combine.Combine(e.val, v)
		if err != nil {
			if f.err == nil {
				f.err = fmt.Errorf("combine values of key %q: %w", k, err)
			}
			return
		}
		f.size += int64(len(merged) - len(e.val))
		e.val = merged
		return
	}
	f.index[string(k)] = int32(len(f.entries))
	f.entries = append(f.entries, pending{key: f.arena.copy(k), val: f.arena.copy(v)})
	f.size += int64(len(k) + len(v) + 64) // 64: the map entry and slice headers
	if f.size >= f.PrecombineBytes {
		f.flush()
	}
}

// flush emits the pre-combined pairs and forgets them.
func (f *mapFn) flush() {
	for _, e := range f.entries {
		f.emit(e.key, e.val)
	}
	f.counts[mapreduce.CombineOutputRecords] += int64(len(f.entries))
	clear(f.entries)
	f.entries = f.entries[:0]
	clear(f.index)
	f.size = 0
}

// FinishBundle emits what the bundle pre-combined and its counters.
func (f *mapFn) FinishBundle(ctx context.Context, emit func([]byte, []byte), emitCounters func(string)) error {
	f.emit = emit
	f.flush()
	f.emit = nil
	f.counts[mapreduce.MapOutputRecords] += f.emitted
	if f.combine != nil {
		f.counts[mapreduce.CombineInputRecords] += f.emitted
	}
	f.emitted = 0
	flushCounters(ctx, f.counts, f.bundle)
	line, err := manifestLine(mapCountersPrefix+randomName(), f.bundle)
	if err != nil {
		return err
	}
	emitCounters(line)
	clear(f.bundle)
	return nil
}

// combineFn merges encoded values of one key with the job's combiner. Its
// accumulator is the encoded value itself, so Beam needs only
// MergeAccumulators.
type combineFn struct {
	Job string

	job mapreduce.Combiner
}

// MergeAccumulators combines two encoded values.
func (c *combineFn) MergeAccumulators(a, b []byte) ([]byte, error) {
	if c.job == nil {
		job, err := lookupJob(c.Job)
		if err != nil {
			return nil, err
		}
		combiner, ok := job.(mapreduce.Combiner)
		if !ok {
			return nil, fmt.Errorf("beamjob: job %q has no combiner", c.Job)
		}
		c.job = combiner
	}
	v, err := c.job.Combine(a, b)
	if err != nil {
		return nil, fmt.Errorf("beamjob: combine values of job %q: %w", c.Job, err)
	}
	return v, nil
}

// reduceBase writes the groups of one bundle into one part file under Dir
// (the output's _temporary directory) with a name no other attempt uses,
// and emits that name when the bundle finishes. A bundle that fails never
// emits, and its file is never committed.
type reduceBase struct {
	Job    string
	Params map[string]string
	Dir    string
	// Run is the job run's id, under which the bundle makes its
	// temporary directories (scratch).
	Run               string
	OutputFormat      string
	OutputCompression string
	// ValueColumns names the output value's columns when the job takes
	// them from its input (output.Options.ValueColumns).
	ValueColumns []string

	job  mapreduce.ByteJob
	opts output.Options
	tc   *mapreduce.TaskContext
	out  mapreduce.Reducer
	name string
	// part is where the part file is written (stagePart).
	part *stagedPart
}

// Setup looks the job up and parses the output options.
func (f *reduceBase) Setup() error {
	job, err := lookupJob(f.Job)
	if err != nil {
		return err
	}
	f.job = job
	f.opts, err = outputOptions(f.OutputFormat, f.OutputCompression)
	f.opts.ValueColumns = f.ValueColumns
	return err
}

// open starts the bundle's part file on its first group.
func (f *reduceBase) open(ctx context.Context) error {
	if f.out != nil {
		return nil
	}
	return f.openNamed(ctx, "part-"+randomName())
}

// openNamed starts the bundle's part file under name (plus the format's
// extension), which must be unique to this attempt.
func (f *reduceBase) openNamed(ctx context.Context, name string) error {
	task := "reduce-" + strings.TrimPrefix(name, "part-")
	f.tc = mapreduce.NewTaskContext(ctx, f.Job, task, 1, f.Params, slog.Default().With("job", f.Job, "task", task))
	f.name = name + f.opts.Ext()
	part, err := stagePart(f.Run, f.Dir, f.name)
	if err != nil {
		return err
	}
	out, err := f.job.NewReducer(f.tc, part.Path, f.opts)
	if err != nil {
		part.discard()
		return fmt.Errorf("beamjob: %s: %w", task, err)
	}
	f.out, f.part = out, part
	return nil
}

func (f *reduceBase) reduce(ctx context.Context, key []byte, values iter.Seq[[]byte]) error {
	if err := f.open(ctx); err != nil {
		return err
	}
	var n int64
	counted := func(yield func([]byte) bool) {
		for v := range values {
			n++
			if !yield(v) {
				return
			}
		}
	}
	if err := f.out.Reduce(key, counted); err != nil {
		f.abort()
		return fmt.Errorf("beamjob: %s: %w", f.tc.TaskID(), err)
	}
	counters := f.tc.Counters()
	counters[mapreduce.ReduceInputGroups]++
	counters[mapreduce.ReduceInputRecords] += n
	return nil
}

func (f *reduceBase) abort() {
	if f.out != nil {
		f.out.Abort()
		f.out = nil
	}
	if f.part != nil {
		f.part.discard()
		f.part = nil
	}
}

// finish closes the bundle's part file, reports its counters and emits its
// name, the only sign by which the launcher commits it.
func (f *reduceBase) finish(ctx context.Context, emit func(string)) error {
	if f.out == nil {
		return nil
	}
	out, part := f.out, f.part
	f.out, f.part = nil, nil
	if err := out.Close(); err != nil {
		out.Abort()
		part.discard()
		return fmt.Errorf("beamjob: %s: close %s: %w", f.tc.TaskID(), f.name, err)
	}
	if err := part.publish(ctx); err != nil {
		return fmt.Errorf("beamjob: %s: %w", f.tc.TaskID(), err)
	}
	counters := f.tc.Counters()
	counters[mapreduce.ReduceOutputRecords] += out.Records()
	counters[mapreduce.OutputBytes] += out.Bytes()
	all := mapreduce.Counters{}
	flushCounters(ctx, counters, all)
	line, err := manifestLine(f.name, all)
	if err != nil {
		return err
	}
	emit(line)
	return nil
}

// Teardown removes the part file of a bundle that failed.
func (f *reduceBase) Teardown() error {
	f.abort()
	return nil
}

// reduceGroupsFn reduces the groups of a GroupByKey (jobs without a
// combiner): the job's Reduce gets an iter.Seq over Beam's value iterator,
// so a key's values are never held in memory by Quern.
type reduceGroupsFn struct{ reduceBase }

// StartBundle abandons the part file of a failed bundle, if this instance
// held one, so that its groups never reach a committed part.
func (f *reduceGroupsFn) StartBundle(_ context.Context, _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement reduces one key and its values.
func (f *reduceGroupsFn) ProcessElement(ctx context.Context, key []byte, values func(*[]byte) bool, emit func(string)) error {
	return f.reduce(ctx, key, func(yield func([]byte) bool) {
		var v []byte
		for values(&v) {
			if !yield(v) {
				return
			}
		}
	})
}

// FinishBundle commits nothing itself: it closes the part and emits its name.
func (f *reduceGroupsFn) FinishBundle(ctx context.Context, emit func(string)) error {
	return f.finish(ctx, emit)
}

// reduceCombinedFn reduces the output of CombinePerKey (jobs with a
// combiner): one combined value per key.
type reduceCombinedFn struct{ reduceBase }

// StartBundle abandons the part file of a failed bundle.
func (f *reduceCombinedFn) StartBundle(_ context.Context, _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement reduces one key and its combined value.
func (f *reduceCombinedFn) ProcessElement(ctx context.Context, key, value []byte, emit func(string)) error {
	return f.reduce(ctx, key, func(yield func([]byte) bool) { yield(value) })
}

// FinishBundle closes the part and emits its name.
func (f *reduceCombinedFn) FinishBundle(ctx context.Context, emit func(string)) error {
	return f.finish(ctx, emit)
}

// manifestFn records the names of committed part files: each bundle writes
// the names it saw into a manifest file of its own in Dir, created under a
// hidden name and renamed, so the launcher reads only whole manifests. It
// runs after a Reshuffle, so it only sees names of reduce bundles that
// Beam committed; a retried manifest bundle repeats names, which the
// launcher de-duplicates.
type manifestFn struct {
	Dir string
	// Run is the job run's id (scratch): a manifest written to an object
	// prefix after the run was abandoned is deleted (withdrawIfEnded).
	Run string

	names []string
}

// StartBundle forgets the names of a failed bundle; a retry brings them again.
func (f *manifestFn) StartBundle() error {
	f.names = f.names[:0]
	return nil
}

// ProcessElement remembers one committed bundle's line (manifestLine).
func (f *manifestFn) ProcessElement(line string) error {
	if strings.ContainsAny(line, "\n") {
		return fmt.Errorf("beamjob: bad manifest line %q", line)
	}
	f.names = append(f.names, line)
	return nil
}

// FinishBundle writes the bundle's manifest.
func (f *manifestFn) FinishBundle() error {
	if len(f.names) == 0 {
		return nil
	}
	id := randomName()
	data := []byte(strings.Join(f.names, "\n") + "\n")
	if objstore.IsURL(f.Dir) {
		// An object appears whole or not at all: no rename needed.
		dst := f.Dir + "/" + manifestPrefix + id
		if err := objstore.WriteObject(context.Background(), dst, data); err != nil {
			return fmt.Errorf("beamjob: write manifest: %w", err)
		}
		if err := withdrawIfEnded(f.Run, f.Dir, dst); err != nil {
			return err
		}
		f.names = f.names[:0]
		return nil
	}
	tmp := filepath.Join(f.Dir, ".manifest-"+id)
	if err := writeFileSync(tmp, data); err != nil {
		return fmt.Errorf("beamjob: write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(f.Dir, manifestPrefix+id)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("beamjob: commit manifest: %w", err)
	}
	f.names = f.names[:0]
	return nil
}

const manifestPrefix = "_manifest-"

func writeFileSync(path string, data []byte) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	return errors.Join(err, fh.Close())
}
