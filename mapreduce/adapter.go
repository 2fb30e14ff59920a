package mapreduce

import (
	"bytes"
	"fmt"
	"iter"
	"unsafe"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/output"
)

// The typed job as a ByteJob: its mapper encodes the pairs the user's Map
// emits (or folds them in a table first, combiner.go), and its reducer
// decodes keys and values for the user's Reduce and writes its typed output
// file. Both check that the emit and values they hand the user are used only
// during the call that received them.

// compiled is a Job with its defaults filled in, seen by the task layer
// through ByteJob. Register wraps it further when the job has a combiner
// (withCombiner) or sorts values (withSortValues), so that the task layer
// finds those optional interfaces only on jobs that have them.
type compiled[K, V, OK, OV any] struct {
	job    *Job[K, V, OK, OV]
	keys   Codec[K]
	values Codec[V]
	part   Partitioner
}

var _ ByteJob = (*compiled[string, int, string, int])(nil)

// byteJob returns c as the task layer sees it.
func (c *compiled[K, V, OK, OV]) byteJob() ByteJob {
	switch {
	case c.job.Combine != nil:
		return withCombiner[K, V, OK, OV]{c}
	case c.job.SortValues != nil:
		return withSortValues[K, V, OK, OV]{c}
	}
	return c
}

// typed is implemented by every adapter of a typed Job, so that Run can
// tell whether the registered job under a name is the one it was given.
type typed interface{ typedJob() any }

func (c *compiled[K, V, OK, OV]) typedJob() any { return c.job }

func (c *compiled[K, V, OK, OV]) Partitioner() Partitioner { return c.part }

// withCombiner is a typed job with a combiner.
type withCombiner[K, V, OK, OV any] struct{ *compiled[K, V, OK, OV] }

// Combine decodes two values, combines them and encodes the result; the
// map tasks do not use it: they combine typed values (combiner.go).
func (c withCombiner[K, V, OK, OV]) Combine(a, b []byte) ([]byte, error) {
	va, err := c.values.Decode(a)
	if err != nil {
		return nil, err
	}
	vb, err := c.values.Decode(b)
	if err != nil {
		return nil, err
	}
	return c.values.Append(nil, c.job.Combine(va, vb)), nil
}

// withSortValues is a typed job with a secondary sort: it shuffles on
// composite keys (secondary.go), grouped and partitioned by their key part.
type withSortValues[K, V, OK, OV any] struct{ *compiled[K, V, OK, OV] }

func (c withSortValues[K, V, OK, OV]) GroupKey(key []byte) []byte { return groupPrefix(key) }

// Partitioner hands the job's partitioner the encoded key, not the escaped
// group key the task layer partitions by.
func (c withSortValues[K, V, OK, OV]) Partitioner() Partitioner {
	return unescapingPartitioner{c.part}
}

type unescapingPartitioner struct{ Partitioner }

func (p unescapingPartitioner) Partition(groupKey []byte, n int) int {
	if bytes.IndexByte(groupKey, 0) == len(groupKey)-2 {
		// No 0x00 in the key: it is the group key without its
		// terminator, and needs no copy.
		return p.Partitioner.Partition(groupKey[:len(groupKey)-2], n)
	}
	return p.Partitioner.Partition(unescape(nil, groupKey), n)
}

func (c *compiled[K, V, OK, OV]) Info() JobInfo {
	info := JobInfo{
		Name:         c.job.Name,
		Description:  c.job.Description,
		Params:       c.job.Params,
		KeyType:      typeName[K](),
		ValueType:    typeName[V](),
		OutKeyType:   typeName[OK](),
		OutValueType: typeName[OV](),
		HasCombiner:  c.job.Combine != nil,
		TotalOrder:   c.job.TotalOrder,
		NoReduce:     c.job.Reduce == nil,
		LineInput:    c.job.LineInput,

		MalformedCounter: c.job.MalformedCounter,
		WarnCounters:     c.job.WarnCounters,
	}
	if c.job.MaxSplitSize > 0 {
		info.SplitSize, info.MaxSplitSize, info.TasksPerWorker = DefaultSplitSize, c.job.MaxSplitSize, 2
	}
	return info
}

// LineFilter implements task.LineFiltered.
func (c *compiled[K, V, OK, OV]) LineFilter(param func(name string) string) []byte {
	if c.job.LineFilter == nil {
		return nil
	}
	return c.job.LineFilter(param)
}

// typedMapper runs the user's Map over one task's records.
type typedMapper[K, V, OK, OV any] struct {
	tc      *TaskContext
	job     *Job[K, V, OK, OV]
	emits   *guardRing[func(K, V)] // the emits the user's Map gets, one per call
	guard   callGuard
	mapOne  func(Record, func(K, V)) error
	finish  func() // hands over what the emitter holds
	release func() // gives back what the emitter borrowed
	err     error  // the emitter's first error
}

func (c *compiled[K, V, OK, OV]) NewMapper(tc *TaskContext, out MapOutput) (Mapper, error) {
	m := &typedMapper[K, V, OK, OV]{tc: tc, job: c.job}
	var emit func(K, V)
	var comb *combiner[K, V]
	switch {
	case c.job.Combine != nil && out.Budget() > 0:
		comb = newCombiner(c.keys, c.values, c.job.Combine, out, tc.Counters(), out.Budget()/2, m.fail)
		emit, m.finish, m.release = comb.add, comb.finish, comb.release
	case c.job.SortValues != nil:
		emit = c.sortingEmitter(out)
	case c.partWriter(out) != nil:
		emit = c.partEmitter(out.(task.PartOutput))
	default:
		emit = c.plainEmitter(out)
	}
	// emit is valid only during the Map call that received it: one that a
	// goroutine kept and calls later would write into a buffer that has
	// moved on (or been handed to the next task), or mix its pairs into
	// another record's (callguard.go).
	sink := emit
	m.mapOne = func(rec Record, emit func(K, V)) error { return c.job.Map(tc, rec, emit) }
	if task.SkipLimit(tc) > 0 {
		sink, m.mapOne = c.skippingMapper(tc, emit)
		comb = nil // pairs go through the skipping mapper's hold
	}
	if comb != nil {
		// A job with a combiner, the common case, emits every pair into
		// the table: a direct call to a method of a struct, rather than
		// through sink to a closure whose variables each sit behind a
		// pointer of their own. BenchmarkMapTask in apps/wordcount, CPU
		// per word, 8 alternated runs on the loaded 2-core machine:
		// median 117 ns before, 92 ns after.
		m.emits = newGuardRing(func(slot uint64) func(K, V) {
			return func(k K, v V) {
				if !m.guard.ok(slot) {
					misusedAfter(tc, "emit", "Map", m.guard.between())
				}
				comb.add(k, v)
			}
		})
		return m, nil
	}
	m.emits = newGuardRing(func(slot uint64) func(K, V) {
		return func(k K, v V) {
			if !m.guard.ok(slot) {
				misusedAfter(tc, "emit", "Map", m.guard.between())
			}
			sink(k, v)
		}
	})
	return m, nil
}

// misusedAfter panics with a message that says which function (emit, the
// values iterator) of which task was used outside its call: after it
// returned (no call running), or during a later call.
func misusedAfter(tc *TaskContext, what, fn string, after bool) {
	how := "used after " + fn + " returned"
	if !after {
		how = "used during a later " + fn + " call than the one that received it"
	}
	panic(fmt.Sprintf("mapreduce: job %s, task %s attempt %d: %s %s (a goroutine kept it); it is valid only during the %s call that received it",
		tc.Job(), tc.TaskID(), tc.Attempt(), what, how, fn))
}

func (m *typedMapper[K, V, OK, OV]) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

func (m *typedMapper[K, V, OK, OV]) Map(rec Record) error {
	err := m.mapOne(rec, m.emits.forCall(m.guard.begin()))
	m.guard.end()
	if err == nil {
		err = m.err
	}
	return err
}

func (m *typedMapper[K, V, OK, OV]) Close() error {
	if m.finish != nil {
		m.finish()
		m.finish, m.release = nil, nil
	}
	return m.err
}

func (m *typedMapper[K, V, OK, OV]) Abort() {
	if m.release != nil {
		m.release()
		m.finish, m.release = nil, nil
	}
}

// skippingMapper runs Map on one record at a time with its emits held back,
// so that a record on which Map panics or fails is dropped whole, with
// nothing of it emitted, and the task goes on. This is the MapReduce paper's
// bad-record skipping: it only runs in a retry, after an attempt has failed,
// so that the normal path pays nothing for it.
//
// It returns the emit that holds pairs back (which the user's Map reaches
// through its guarded emit) and the function that maps one record.
func (c *compiled[K, V, OK, OV]) skippingMapper(tc *TaskContext, emit func(K, V)) (hold func(K, V), mapOne func(Record, func(K, V)) error) {
	var held [][2][]byte
	var n int
	hold = func(k K, v V) {
		if n == len(held) {
			held = append(held, [2][]byte{})
		}
		held[n][0] = c.keys.Append(held[n][0][:0], k)
		held[n][1] = c.values.Append(held[n][1][:0], v)
		n++
	}
	try := func(rec Record, guarded func(K, V)) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return c.job.Map(tc, rec, guarded)
	}
	return hold, func(rec Record, guarded func(K, V)) error {
		n = 0
		if err := try(rec, guarded); err != nil {
			return SkipRecord(tc, rec.File, rec.Offset, err)
		}
		for _, kv := range held[:n] {
			k, err := c.keys.Decode(kv[0])
			if err != nil {
				return err
			}
			v, err := c.values.Decode(kv[1])
			if err != nil {
				return err
			}
			emit(k, v)
		}
		return nil
	}
}

// plainEmitter encodes every pair straight into the sort buffer.
func (c *compiled[K, V, OK, OV]) plainEmitter(out MapOutput) func(K, V) {
	var kbuf, vbuf []byte
	return func(k K, v V) {
		kbuf = c.keys.Append(kbuf[:0], k)
		vbuf = c.values.Append(vbuf[:0], v)
		out.Emit(kbuf, vbuf)
	}
}

// partWriter returns the typed writer of a map-only task's part file, if
// out is one that this job's NewMapOnlyWriter made, or nil.
func (c *compiled[K, V, OK, OV]) partWriter(out MapOutput) output.Writer[K, V] {
	part, ok := out.(task.PartOutput)
	if !ok {
		return nil
	}
	if w, ok := part.Writer().(*decodingWriter[K, V]); ok {
		return w.Writer
	}
	return nil
}

// partEmitter writes every pair straight to a map-only task's typed part
// file, where the task layer's Emit would have the pair encoded here and
// decoded again by decodingWriter: a string key cost a copy each way.
func (c *compiled[K, V, OK, OV]) partEmitter(part task.PartOutput) func(K, V) {
	w := c.partWriter(part)
	return func(k K, v V) {
		var err error
		if part.Err() == nil {
			err = w.Write(k, v)
		}
		part.Wrote(err)
	}
}

// sortingEmitter emits composite keys for a secondary sort (see
// secondary.go), which the task layer partitions by their key part
// (withSortValues.GroupKey).
func (c *compiled[K, V, OK, OV]) sortingEmitter(out MapOutput) func(K, V) {
	var kbuf, cbuf, vbuf []byte
	return func(k K, v V) {
		kbuf = c.keys.Append(kbuf[:0], k)
		cbuf = c.job.SortValues(appendEscaped(cbuf[:0], kbuf), v)
		vbuf = c.values.Append(vbuf[:0], v)
		out.Emit(cbuf, vbuf)
	}
}

// typedReducer runs the user's Reduce over one partition's groups and
// writes its typed output file.
type typedReducer[K, V, OK, OV any] struct {
	c  *compiled[K, V, OK, OV]
	tc *TaskContext
	w  output.Writer[OK, OV]

	decodeKey func([]byte) (K, error)
	kbuf      []byte // a secondary sort's unescaped key
	current   iter.Seq[[]byte]
	emits     *guardRing[func(OK, OV)] // the emits Reduce gets, one per call
	values    *guardRing[iter.Seq[V]]  // the values iterators, one per call
	guard     callGuard
	derr      error // the values iterator's first error
	werr      error // the first error writing the output
}

func (c *compiled[K, V, OK, OV]) NewReducer(tc *TaskContext, path string, opts output.Options) (Reducer, error) {
	if c.job.Reduce == nil {
		return nil, fmt.Errorf("job %q %w", c.job.Name, task.ErrNoReduce)
	}
	w, err := output.Create[OK, OV](path, c.job.outputOptions(opts))
	if err != nil {
		return nil, err
	}
	r := &typedReducer[K, V, OK, OV]{c: c, tc: tc, w: w, decodeKey: bytesView(c.keys)}
	// emit and values are valid only during the Reduce call that received
	// them; a goroutine that kept one and uses it later would write or
	// read another key's data (callguard.go).
	r.emits = newGuardRing(func(slot uint64) func(OK, OV) {
		return func(k OK, v OV) {
			if !r.guard.ok(slot) {
				misusedAfter(tc, "emit", "Reduce", r.guard.between())
			}
			if err := r.w.Write(k, v); err != nil && r.werr == nil {
				r.werr = err // it names the file and the record (output.Writer)
			}
		}
	})
	// The iterators read whichever group is current, so the ring's sixteen
	// serve every group: building a closure per group (an allocation each,
	// which showed as a fifth of a sort's allocations) is not needed.
	decodeValue := bytesView(c.values)
	r.values = newGuardRing(func(slot uint64) iter.Seq[V] {
		return func(yield func(V) bool) {
			if !r.guard.ok(slot) {
				misusedAfter(tc, "the values iterator", "Reduce", r.guard.between())
			}
			for b := range r.current {
				v, err := decodeValue(b)
				if err != nil {
					r.derr = fmt.Errorf("decode value: %w", err)
					return
				}
				if !yield(v) {
					return
				}
			}
		}
	})
	return r, nil
}

func (r *typedReducer[K, V, OK, OV]) Reduce(encoded []byte, values iter.Seq[[]byte]) error {
	if r.c.job.SortValues != nil {
		r.kbuf = unescape(r.kbuf[:0], encoded)
		encoded = r.kbuf
	}
	key, err := r.decodeKey(encoded)
	if err != nil {
		return fmt.Errorf("decode key: %w", err)
	}
	r.current = values
	call := r.guard.begin()
	err = r.c.job.Reduce(r.tc, key, r.values.forCall(call), r.emits.forCall(call))
	r.guard.end()
	r.current = nil
	if err == nil {
		err, r.derr = r.derr, nil
	}
	if err == nil {
		err = r.werr
	}
	return err
}

// Close closes the part file; its error names the file (output.Writer).
func (r *typedReducer[K, V, OK, OV]) Close() error { return r.w.Close() }

func (r *typedReducer[K, V, OK, OV]) Abort()         { r.w.Abort() }
func (r *typedReducer[K, V, OK, OV]) Records() int64 { return r.w.Records() }
func (r *typedReducer[K, V, OK, OV]) Bytes() int64   { return r.w.Bytes() }

// bytesView decodes reducer keys and values. A []byte key or value with the
// built-in codec is handed to Reduce as a view of the merge's buffer instead
// of a copy per record: sorting ten million records made ten million copies
// of their keys, and as many of their values (the largest item of a sort
// reducer's profile, BytesCodec.Decode, 1.57 s of CPU on 1 GiB). The views
// live as the Reduce contract in job.go says: a key until Reduce returns (the
// Grouper holds it in its own buffer), a value until the values iterator
// moves on (the merge reuses its block buffers). Named []byte types and
// custom codecs still decode copies.
func bytesView[T any](codec Codec[T]) func([]byte) (T, error) {
	if _, ok := any(codec).(BytesCodec); ok {
		return func(b []byte) (T, error) { return *(*T)(unsafe.Pointer(&b)), nil }
	}
	return codec.Decode
}

// CanMerge returns why part files cannot be merged in key order, or nil.
func (c *compiled[K, V, OK, OV]) CanMerge() error {
	if KeyCodecFor[OK]() == nil {
		return fmt.Errorf("--merge needs an output key type with an order; job %q writes %s keys", c.job.Name, typeName[OK]())
	}
	if c.job.OutOfKeyOrder {
		return fmt.Errorf("--merge needs part files in key order; job %q writes its keys out of key order", c.job.Name)
	}
	return nil
}

// MergeParts k-way merges sorted part files into dst, comparing output keys
// by their order-preserving encoding, the same order reducers see keys in.
func (c *compiled[K, V, OK, OV]) MergeParts(dst string, parts []string, opts output.Options) error {
	codec := KeyCodecFor[OK]()
	var a, b []byte
	return output.Merge[OK, OV](dst, parts, c.job.outputOptions(opts), func(x, y OK) int {
		a, b = codec.Append(a[:0], x), codec.Append(b[:0], y)
		return bytes.Compare(a, b)
	})
}

// CheckParams checks the job's parameters (Job.CheckParams).
func (c *compiled[K, V, OK, OV]) CheckParams(params map[string]string) error {
	if c.job.CheckParams == nil {
		return nil
	}
	return c.job.CheckParams(func(name string) string { return params[name] })
}

// ColumnsFromInput names the output value's columns from the input, or
// returns nil (Job.ColumnsFromInput).
func (c *compiled[K, V, OK, OV]) ColumnsFromInput(params map[string]string, files []input.File) ([]string, error) {
	if c.job.ColumnsFromInput == nil {
		return nil, nil
	}
	return c.job.ColumnsFromInput(func(name string) string { return params[name] }, files)
}

// NewMapOnlyWriter writes the typed map output pairs (K, V) in the job's
// output format, with its column names (MapOnlyJob).
func (c *compiled[K, V, OK, OV]) NewMapOnlyWriter(tc *TaskContext, path string, opts output.Options) (output.Writer[[]byte, []byte], error) {
	if c.job.SortValues != nil {
		return nil, fmt.Errorf("job %q sorts values within a key (SortValues): it cannot run map-only", c.job.Name)
	}
	w, err := output.Create[K, V](path, c.job.outputOptions(opts))
	if err != nil {
		return nil, err
	}
	return &decodingWriter[K, V]{Writer: w, path: path, key: bytesView(c.keys), value: bytesView(c.values)}, nil
}

// decodingWriter writes encoded pairs to a typed output file. Its errors
// name the file, as the output's own do (output.Writer).
type decodingWriter[K, V any] struct {
	output.Writer[K, V]
	path  string
	key   func([]byte) (K, error)
	value func([]byte) (V, error)
}

func (w *decodingWriter[K, V]) Write(key, value []byte) error {
	k, err := w.key(key)
	if err != nil {
		return fmt.Errorf("write output %s: decode key: %w", w.path, err)
	}
	v, err := w.value(value)
	if err != nil {
		return fmt.Errorf("write output %s: decode value: %w", w.path, err)
	}
	return w.Writer.Write(k, v)
}
