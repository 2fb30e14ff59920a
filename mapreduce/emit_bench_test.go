package mapreduce

import (
	"bytes"
	"context"
	"iter"
	"testing"
)

// discardOutput is a MapOutput that keeps nothing: BenchmarkMapEmit
// measures the typed adapter's emit path, not the sort buffer.
type discardOutput struct{ pairs int }

func (o *discardOutput) Emit(key, value []byte) { o.pairs++ }
func (o *discardOutput) Spill()                 {}
func (o *discardOutput) Budget() int64          { return 0 }

var emitWordsJob = &Job[[]byte, int64, []byte, int64]{
	Name: "emit-words",
	Map: func(_ *TaskContext, rec Record, emit func([]byte, int64)) error {
		asciiWords(rec.Value, func(w []byte) { emit(w, 1) })
		return nil
	},
	Reduce: func(*TaskContext, []byte, iter.Seq[int64], func([]byte, int64)) error { return nil },
}

// BenchmarkMapEmit is the typed adapter's per-record and per-pair cost
// without a combiner or sort buffer: Map is called once per line of
// bench/gen text and emits each word through the guarded emit
// (callguard.go). MB/s counts input text.
func BenchmarkMapEmit(b *testing.B) {
	lines := bytes.Split(combinerText()[:4<<20], []byte("\n"))
	c, err := emitWordsJob.compile()
	if err != nil {
		b.Fatal(err)
	}
	tc := NewTaskContext(context.Background(), "emit-words", "map-00000", 1, nil, nil)
	out := &discardOutput{}
	m, err := c.NewMapper(tc, out)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4 << 20)
	b.ReportAllocs()
	for b.Loop() {
		for _, line := range lines {
			if err := m.Map(Record{Value: line}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if out.pairs == 0 {
		b.Fatal("nothing emitted")
	}
}
