package mapreduce

import (
	"bytes"
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
	buf := new(spill.Buffer)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		out := &SortedRuns{
			prefix:   filepath.Join(dir, "run"),
			opts:     spill.Options{Partitions: 2, BlockSize: runBlockSize},
			part:     c.part,
			budget:   64 << 20,
			buf:      buf,
			counters: Counters{},
		}
		emit, finish, _ := NewCombiner(c.keys, c.values, c.job.Combine, out, out.counters, 32<<20, out.fail)
		asciiWords(text, func(w []byte) { emit(w, 1) })
		finish()
		if out.err != nil {
			b.Fatal(out.err)
		}
		if len(out.runs) != 1 || out.counters[CombineOutputRecords] < 1000 {
			b.Fatalf("%d runs, %d keys", len(out.runs), out.counters[CombineOutputRecords])
		}
	}
}
