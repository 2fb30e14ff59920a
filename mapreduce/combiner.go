package mapreduce

import (
	"fmt"
	"reflect"
	"unsafe"

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
// The task layer counts the pairs that reach out as map output records;
// finish flushes what is left and adds those the table folded away, so
// that the counter still says how many pairs Map emitted, and counts
// combine_input_records and combine_output_records. release gives the
// table back to the next task without flushing it (the attempt failed).
// fail reports a value that cannot be copied through its codec.
func NewCombiner[K, V any](keys Codec[K], values Codec[V], combine func(a, b V) V, out MapOutput, counters Counters,
	budget int64, fail func(error)) (emit func(K, V), finish, release func()) {
	var (
		// kvtable rather than map[string]int32: on bench/gen text it looks
		// up a word in 0.65x the time (see internal/kvtable's benchmarks),
		// and a new key costs no string allocation. The table comes from
		// the previous task's: a worker serves many tasks, and a new table
		// would regrow its index and arena, page by fresh page, each time.
		index = task.TakeTable()
		vals  []V
		held  int64 // bytes Sizer values report, beyond their slots
		// kbuf starts with the 16 bytes of capacity that let the table
		// load a short key in two masked words.
		kbuf = make([]byte, 0, 64)
		vbuf []byte
		in   int64
		// combined counts the pairs flushed into out.
		combined int64
	)
	// Values that may share memory with the caller's (slices, maps,
	// pointers) are copied through the codec before the table keeps them,
	// because emit promises that the caller may reuse its buffers.
	mustCopy := !isScalar(reflect.TypeFor[V]())
	// Values that grow as they combine (maps, lists) say how big they are
	// through Sizer, so that the table's budget counts what it holds.
	_, sized := any(*new(V)).(Sizer)
	inline := !sized && fitsWord(reflect.TypeFor[V]())
	// A []byte key under BytesCodec is its own encoding: it goes to the
	// table as it is, without the copy into kbuf (which only a key with less
	// than 16 bytes of capacity still takes, to keep the table's two-word
	// load; see kvtable.FindOrInsert). The table reads the bytes between
	// the key's length and its capacity, masking them off, so a caller must
	// not write them while emit runs; they are the caller's own memory.
	_, bytesCodec := any(keys).(BytesCodec)
	rawKeys := bytesCodec && reflect.TypeFor[K]() == reflect.TypeFor[[]byte]()
	var sizes []int64
	sizeOf := func(v V) int64 {
		if s, ok := any(v).(Sizer); ok {
			return int64(s.Size())
		}
		return 0
	}
	// slotCost is the memory per distinct key beside the table's own
	// (index.Bytes counts the key, its entry and offset): the value slot
	// and, for Sizer values, the size slot.
	slotCost := int64(unsafe.Sizeof(*new(V)))
	if inline {
		slotCost = 0
	}
	if sized {
		slotCost += 8
	}
	full := func() bool {
		return int64(index.Bytes())+int64(index.Len())*slotCost+held >= budget
	}

	flush := func() {
		if inline {
			for key, w := range index.All() {
				vbuf = values.Append(vbuf[:0], *(*V)(unsafe.Pointer(&w)))
				out.Emit(key, vbuf)
			}
		} else {
			for i := range vals {
				vbuf = values.Append(vbuf[:0], vals[i])
				out.Emit(index.Key(int32(i)), vbuf)
			}
		}
		counters[CombineOutputRecords] += int64(index.Len())
		combined += int64(index.Len())
		index.Reset()
		clear(vals)
		vals, sizes, held = vals[:0], sizes[:0], 0
		out.Spill()
	}
	emit = func(k K, v V) {
		in++
		var key []byte
		if rawKeys {
			key = *(*[]byte)(unsafe.Pointer(&k)) // K is []byte
			if cap(key) < 16 {
				kbuf = append(kbuf[:0], key...)
				key = kbuf
			}
		} else {
			kbuf = keys.Append(kbuf[:0], k)
			key = kbuf
		}
		if inline {
			w, inserted := index.Upsert(key)
			p := (*V)(unsafe.Pointer(w)) // V fits the word and holds no pointers
			if !inserted {
				*p = combine(*p, v)
				return
			}
			*p = v
			if full() {
				flush()
			}
			return
		}
		i, inserted := index.FindOrInsert(key)
		if !inserted {
			vals[i] = combine(vals[i], v)
			if sized {
				n := sizeOf(vals[i])
				held += n - sizes[i]
				sizes[i] = n
				if full() {
					flush()
				}
			}
			return
		}
		if mustCopy {
			vbuf = values.Append(vbuf[:0], v)
			var err error
			if v, err = values.Decode(vbuf); err != nil {
				// The key is in the table already; a zero value keeps
				// vals in step with its slots, and the failed output
				// writes nothing more.
				fail(fmt.Errorf("copy value of key %q: %w", key, err))
				v = *new(V)
			}
		}
		vals = append(vals, v)
		if sized {
			n := sizeOf(v)
			sizes = append(sizes, n)
			held += n
		}
		if full() {
			flush()
		}
	}
	release = func() {
		index.Reset()
		task.KeepTable(index)
		index = nil // emit after finish is a bug; fail loudly
	}
	finish = func() {
		if index.Len() > 0 {
			flush()
		}
		counters[MapOutputRecords] += in - combined
		counters[CombineInputRecords] += in
		release()
	}
	return emit, finish, release
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
