package invertedindex_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
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
	job, ok := mapreduce.LookupByteJob("invertedindex")
	if !ok {
		b.Fatal("invertedindex is not registered")
	}
	dir := b.TempDir()
	b.SetBytes(int64(len(docs)) * 4 << 20)
	b.ReportAllocs()
	cpu := testenv.CPUTime()
	for b.Loop() {
		counters := mapreduce.Counters{}
		out := mapreduce.NewSortedRuns(filepath.Join(dir, "run"), spill.Options{Partitions: 2, BlockSize: mapreduce.RunBlockSize},
			shuffle.HashPartitioner{}, 64<<20, counters)
		tc := mapreduce.NewTaskContext(context.Background(), "invertedindex", "map-00000", 1, nil, nil)
		m, err := job.NewMapper(tc, out)
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			for _, line := range d.lines {
				if err := m.Map(mapreduce.Record{File: d.path, Value: line}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Close(); err != nil {
			b.Fatal(err)
		}
		if keys := tc.Counters()[mapreduce.CombineOutputRecords]; keys < 1000 {
			b.Fatalf("%d keys", keys)
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(b.N*words), "cpu-ns/word")
}
