package invertedindex_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
)

// BenchmarkMapTask is an invertedindex map task without its input
// reading: the lines of four documents of 4 MiB of bench/gen text, one
// after another, each line a record of its document, handed to the job's
// mapper, every word through the combining table, which is flushed into a
// sort buffer and spilled at the end. The documents' paths are as long as
// those of `quern bench`'s input (a folder under ~/.cache), since the
// combiner's common case compares a word's last document with the
// record's. cpu-ns/word is the figure to compare on a loaded machine.
func BenchmarkMapTask(b *testing.B) {
	type doc struct {
		path  string
		lines [][]byte
	}
	var docs []doc
	words := 0
	for i := range 4 {
		var buf bytes.Buffer
		if _, err := gen.Text(&buf, 4<<20, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
		d := doc{path: fmt.Sprintf("/home/someone/.cache/quern-bench/data/text-1073741824-seed1-docs16/doc-%05d.txt", i),
			lines: bytes.Split(buf.Bytes(), []byte("\n"))}
		for _, line := range d.lines {
			for range wordcount.Words(line) {
				words++
			}
		}
		docs = append(docs, d)
	}
	records := func(yield func(mapreduce.Record) bool) {
		for _, d := range docs {
			for _, line := range d.lines {
				if !yield(mapreduce.Record{File: d.path, Value: line}) {
					return
				}
			}
		}
	}
	dir := b.TempDir()
	b.SetBytes(int64(len(docs)) * 4 << 20)
	b.ReportAllocs()
	cpu := testenv.CPUTime()
	for b.Loop() {
		if _, counters := apptest.MapTask(b, dir, "invertedindex", records); counters[mapreduce.CombineOutputRecords] < 1000 {
			b.Fatalf("%d keys", counters[mapreduce.CombineOutputRecords])
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(b.N*words), "cpu-ns/word")
}
