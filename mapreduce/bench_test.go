package mapreduce_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/quern-dev/quern/apps/totalsort"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

// benchInput generates size bytes of one kind of data once per benchmark.
func benchInput(b *testing.B, kind string, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), kind)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.Generate(kind, f, size, 1); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// runBench runs a job b.N times on the local engine and reports input MB/s.
func runBench[K, V, OK, OV any](b *testing.B, job *mapreduce.Job[K, V, OK, OV], in string, cfg mapreduce.Config) {
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := range b.N {
		cfg.Inputs = []string{in}
		cfg.Output = filepath.Join(b.TempDir(), fmt.Sprint("out", i))
		cfg.TmpDir = b.TempDir()
		if _, err := mapreduce.Run(context.Background(), job, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWordCount is the end-to-end path: fork, split, map, combine,
// spill, merge, reduce, commit. MB/s is input bytes per second of wall
// time on all the machine's cores.
func BenchmarkWordCount(b *testing.B) {
	in := benchInput(b, "text", 64<<20)
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		b.Run(engine, func(b *testing.B) {
			runBench(b, wordcount.Job, in, mapreduce.Config{Engine: engine, SplitSize: 16 << 20})
		})
	}
}

// BenchmarkSort sorts gensort records through sampled range partitions,
// with a sort buffer small enough to spill several runs per map task.
func BenchmarkSort(b *testing.B) {
	in := benchInput(b, "gensort", 64<<20)
	runBench(b, totalsort.Job, in, mapreduce.Config{SplitSize: 16 << 20, SortBuffer: 8 << 20})
}

// BenchmarkSmallJob is the fixed cost of a job: fork the workers, plan,
// commit, on a 1 MB input.
func BenchmarkSmallJob(b *testing.B) {
	in := benchInput(b, "text", 1<<20)
	runBench(b, wordcount.Job, in, mapreduce.Config{})
}

// tokensJob emits every word of a line with its length, for
// BenchmarkMapOnly.
var tokensJob = &mapreduce.Job[string, int64, string, int64]{
	Name: "bench-tokens",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		for w := range bytes.FieldsSeq(rec.Value) {
			emit(string(w), int64(len(w)))
		}
		return nil
	},
}

// BenchmarkMapOnly is a typed map-only job's output path: every pair Map
// emits goes to its part file, here text, on the inline engine so that
// the benchmark's own CPU time is the job's.
func BenchmarkMapOnly(b *testing.B) {
	in := benchInput(b, "text", 16<<20)
	runBench(b, tokensJob, in, mapreduce.Config{Engine: mapreduce.EngineInline, MapOnly: true, SplitSize: 16 << 20})
}
