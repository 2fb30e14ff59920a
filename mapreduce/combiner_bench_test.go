package mapreduce

import (
	"bytes"
	"cmp"
	"iter"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/spill"
)

// combinerText is 16 MiB of bench/gen text, a word count's input.
var combinerText = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	if _, err := gen.Text(&buf, 16<<20, 1); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// asciiWords calls f with each maximal run of ASCII letters in b, as
// subslices of b: the key stream apps/wordcount gives the combiner on
// bench/gen text (which is ASCII), without importing it, which imports this
// package.
func asciiWords(b []byte, f func([]byte)) {
	start := -1
	for i, c := range b {
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			f(b[start:i])
			start = -1
		}
	}
	if start >= 0 {
		f(b[start:])
	}
}

var countJob = &Job[[]byte, int64, []byte, int64]{
	Name:    "count",
	Map:     func(*TaskContext, Record, func([]byte, int64)) error { return nil },
	Combine: func(a, b int64) int64 { return a + b },
	Reduce:  func(*TaskContext, []byte, iter.Seq[int64], func([]byte, int64)) error { return nil },
}

// BenchmarkCombiner is one word count map task's emit path: each iteration
// runs a new combining emitter over 16 MiB of text, as a worker does for
// each task it serves, and spills the folded counts as one run. MB/s counts
// input text.
func BenchmarkCombiner(b *testing.B) {
	text := combinerText()
	c, err := countJob.compile()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		counters := Counters{}
		out := NewSortedRuns(filepath.Join(dir, "run"), spill.Options{Partitions: 2, BlockSize: RunBlockSize}, c.part, 64<<20, counters)
		var failed error
		emit, finish, _ := NewCombiner(c.keys, c.values, c.job.Combine, out, counters, 32<<20, func(err error) { failed = cmp.Or(failed, err) })
		asciiWords(text, func(w []byte) { emit(w, 1) })
		finish()
		runs, err := out.Close()
		if err = cmp.Or(err, failed); err != nil {
			b.Fatal(err)
		}
		if len(runs) != 1 || counters[CombineOutputRecords] < 1000 {
			b.Fatalf("%d runs, %d keys", len(runs), counters[CombineOutputRecords])
		}
	}
}
