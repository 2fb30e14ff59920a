package mapreduce

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/quern-dev/quern/internal/kvtable"
	"github.com/quern-dev/quern/internal/task"
)

// NewCombiner is the combining table of a typed job's map tasks
// (Job.Combine), also used by an engine that emits typed pairs into a
// MapOutput outside a Job (package pipeline's Combine). It folds pairs with
// equal keys together in a hash table before they reach the sort buffer,
// the way Spark's reduceByKey and in-mapper combining in Hadoop do: for a
// word count this turns a hundred million pairs into a few hundred
// thousand without sorting them first. The table (internal/kvtable) maps
// the encoded key to its value, so a hit costs one encode and one probe and
// allocates nothing. When the table holds budget bytes it is flushed
// (encoded with keys and values) into out, then out.Spill(): sorted and
// spilled as one run. combine must be associative and commutative.
//
// A value of at most 8 bytes without pointers (a word count's int64) lives
// in the key's table entry (kvtable.Upsert), which the probe has just
// loaded; other values live in a slice indexed by the key's slot.
//
// A table that folds little away is shrunk to a window: once a task has
// added windowSample pairs and flushed at least once, if fewer than a
// tenth of them were folded into others, the rest of the task folds only
// keys that repeat within a table of windowBytes, which stays in the
// cache, flushed into out whenever full and spilled once out holds budget
// bytes. Probing a large table that holds every key once misses the cache
// on every pair and folds nothing (Spark's and Trino's adaptive partial
// aggregation give such a table up altogether; a pass-through checked on
// every pair cost word count's kept table 3-8% of its map CPU, where the
// window costs nothing until it is used).
//
// The task layer counts the pairs that reach out as map output records;
// finish flushes what is left and adds those the table folded away, so
// that the counter still says how many pairs Map emitted, and counts
// combine_input_records and combine_output_records. release gives the
// table back to the next task without flushing it (the attempt failed).
// fail reports a value that cannot be copied through its codec.
func NewCombiner[K, V any](keys Codec[K], values Codec[V], combine func(a, b V) V, out MapOutput, counters Counters,
	budget int64, fail func(error)) (emit func(K, V), finish, release func()) {
	c := newCombiner(keys, values, combine, out, counters, budget, fail)
	return c.add, c.finish, c.release
}

// combiner is NewCombiner's table. A typed job's mapper calls its add
// method directly (adapter.go), one indirect call per pair fewer than
// through the emit function NewCombiner returns.
type combiner[K, V any] struct {
	keys     Codec[K]
	values   Codec[V]
	combine  func(a, b V) V
	out      MapOutput
	counters Counters
	budget   int64
	fail     func(error)

	// kvtable rather than map[string]int32: on bench/gen text it looks
	// up a word in 0.65x the time (see internal/kvtable's benchmarks),
	// and a new key costs no string allocation. The table comes from
	// the previous task's: a worker serves many tasks, and a new table
	// would regrow its index and arena, page by fresh page, each time.
	index *kvtable.Table
	vals  []V
	held  int64 // bytes Sizer values report, beyond their slots
	// kbuf starts with the 16 bytes of capacity that let the table
	// load a short key in two masked words.
	kbuf []byte
	vbuf []byte
	in   int64
	// combined counts the pairs flushed into out.
	combined int64
	// limit is the table's budget: budget, or windowBytes once the task
	// folds through a window (see NewCombiner). large is then the task's
	// own table, kept for the next task; windowFrom is in when the window
	// started, and unspilled what the window's flushes have put in out
	// since it last spilled.
	limit      int64
	large      *kvtable.Table
	windowFrom int64
	unspilled  int64

	// Values that may share memory with the caller's (slices, maps,
	// pointers) are copied through the codec before the table keeps them,
	// because emit promises that the caller may reuse its buffers.
	mustCopy bool
	// Values that grow as they combine (maps, lists) say how big they are
	// through Sizer, so that the table's budget counts what it holds. A
	// value's size is asked again before each combine rather than kept
	// in a slice beside vals: the value is in the cache line just
	// loaded, a slice of sizes another miss per pair.
	sized bool
	// inline values live in their key's table entry.
	inline bool
	// A []byte key under BytesCodec is its own encoding: it goes to the
	// table as it is, without the copy into kbuf (which only a key with
	// less than 16 bytes of capacity still takes, to keep the table's
	// two-word load; see kvtable.FindOrInsert). The table reads the bytes
	// between the key's length and its capacity, masking them off, so a
	// caller must not write them while emit runs; they are the caller's
	// own memory.
	rawKeys bool
	// slotCost is the memory per distinct key beside the table's own
	// (index.Bytes counts the key, its entry and offset): the value slot.
	slotCost int64
}

func newCombiner[K, V any](keys Codec[K], values Codec[V], combine func(a, b V) V, out MapOutput, counters Counters,
	budget int64, fail func(error)) *combiner[K, V] {
	c := &combiner[K, V]{keys: keys, values: values, combine: combine, out: out, counters: counters, budget: budget, limit: budget, fail: fail,
		index: task.TakeTable(), kbuf: make([]byte, 0, 64)}
	c.mustCopy = !isScalar(reflect.TypeFor[V]())
	_, c.sized = any(*new(V)).(Sizer)
	c.inline = !c.sized && fitsWord(reflect.TypeFor[V]())
	_, bytesCodec := any(keys).(BytesCodec)
	c.rawKeys = bytesCodec && reflect.TypeFor[K]() == reflect.TypeFor[[]byte]()
	if !c.inline {
		c.slotCost = int64(unsafe.Sizeof(*new(V)))
	}
	return c
}

func (c *combiner[K, V]) full() bool {
	return c.bytes() >= c.limit
}

func (c *combiner[K, V]) bytes() int64 {
	return int64(c.index.Bytes()) + int64(c.index.Len())*c.slotCost + c.held
}

const (
	// windowSample is how many pairs a task's table must have seen
	// before the combiner judges whether it folds enough to keep it.
	windowSample = 1 << 16
	// windowBytes is the budget of the window a table that folds little
	// is shrunk to: a few thousand keys, whose index stays in L2.
	windowBytes = 256 << 10
)

// flush emits the table's pairs into out and empties it, shrinks it to a
// window if it folds too little (see NewCombiner), and has out spill: at
// every flush of the full table, and once the window's flushes have put
// budget bytes in out.
func (c *combiner[K, V]) flush() {
	flushed := c.bytes()
	if c.inline {
		for key, w := range c.index.All() {
			c.vbuf = c.values.Append(c.vbuf[:0], *(*V)(unsafe.Pointer(&w)))
			c.out.Emit(key, c.vbuf)
		}
	} else {
		for i := range c.vals {
			c.vbuf = c.values.Append(c.vbuf[:0], c.vals[i])
			c.out.Emit(c.index.Key(int32(i)), c.vbuf)
		}
	}
	n := int64(c.index.Len())
	c.counters[CombineOutputRecords] += n
	c.combined += n
	c.index.Reset()
	clear(c.vals)
	c.vals, c.held = c.vals[:0], 0
	if c.large == nil && c.in >= windowSample && (c.in-c.combined)*10 < c.in {
		c.large, c.windowFrom = c.index, c.in
		c.index, c.limit = kvtable.New(0), min(windowBytes, c.budget)
	} else if c.large != nil {
		if c.unspilled += flushed; c.unspilled < c.budget {
			return
		}
		c.unspilled = 0
	}
	c.out.Spill()
}

// add folds the pair k, v into the table.
func (c *combiner[K, V]) add(k K, v V) {
	c.in++
	var key []byte
	if c.rawKeys {
		key = *(*[]byte)(unsafe.Pointer(&k)) // K is []byte
		if cap(key) < 16 {
			c.kbuf = append(c.kbuf[:0], key...)
			key = c.kbuf
		}
	} else {
		c.kbuf = c.keys.Append(c.kbuf[:0], k)
		key = c.kbuf
	}
	if c.inline {
		w, inserted := c.index.Upsert(key)
		p := (*V)(unsafe.Pointer(w)) // V fits the word and holds no pointers
		if !inserted {
			*p = c.combine(*p, v)
			return
		}
		*p = v
		if c.full() {
			c.flush()
		}
		return
	}
	c.addSlot(key, v)
}

// addSlot is add for a value kept in vals, at its key's slot.
func (c *combiner[K, V]) addSlot(key []byte, v V) {
	i, inserted := c.index.FindOrInsert(key)
	if !inserted {
		if !c.sized {
			c.vals[i] = c.combine(c.vals[i], v)
			return
		}
		before := sizeOf(&c.vals[i]) // combine may grow the value in place
		c.vals[i] = c.combine(c.vals[i], v)
		c.held += sizeOf(&c.vals[i]) - before
		if c.full() {
			c.flush()
		}
		return
	}
	if c.mustCopy {
		c.vbuf = c.values.Append(c.vbuf[:0], v)
		var err error
		if v, err = c.values.Decode(c.vbuf); err != nil {
			// The key is in the table already; a zero value keeps
			// vals in step with its slots, and the failed output
			// writes nothing more.
			c.fail(fmt.Errorf("copy value of key %q: %w", key, err))
			v = *new(V)
		}
	}
	c.vals = append(c.vals, v)
	if c.sized {
		c.held += sizeOf(&c.vals[len(c.vals)-1])
	}
	if c.full() {
		c.flush()
	}
}

// release gives the table back for the next task without flushing it.
func (c *combiner[K, V]) release() {
	if c.large != nil {
		c.index, c.large = c.large, nil // the window is dropped
	}
	c.index.Reset()
	task.KeepTable(c.index)
	c.index = nil // add after finish is a bug; fail loudly
}

// finish flushes what the table holds and counts the pairs it folded.
func (c *combiner[K, V]) finish() {
	if c.index.Len() > 0 {
		c.flush()
	}
	c.counters[MapOutputRecords] += c.in - c.combined
	c.counters[CombineInputRecords] += c.in
	if c.large != nil && c.in > c.windowFrom {
		c.counters[CombineWindowedRecords] += c.in - c.windowFrom
	}
	c.release()
}

// sizeOf is the size the Sizer value *v reports, else 0. It takes a
// pointer (whose method set has V's methods): putting a V that is a
// struct into an interface allocates a copy, once per combined pair,
// which was 6% of invertedindex's worker CPU over a folder.
func sizeOf[V any](v *V) int64 {
	if s, ok := any(v).(Sizer); ok {
		return int64(s.Size())
	}
	return 0
}

// fitsWord reports whether a value of type t can live in a kvtable entry's
// 8-byte value: at most 8 bytes, 8-byte aligned at most, and no pointers,
// since the table's memory is not scanned by the garbage collector.
func fitsWord(t reflect.Type) bool {
	return isScalar(t) && t.Kind() != reflect.String && t.Size() <= 8
}

// isScalar reports whether values of type t hold no memory of their own
// beyond their bytes (a string's are immutable), so that the combiner may
// keep them without a copy.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	}
	return false
}
