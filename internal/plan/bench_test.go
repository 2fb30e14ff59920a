package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
)

// BenchmarkInputsFolder plans a folder of 20,000 files of 1 KB, as the
// driver does before a job over a folder of tiny files starts any task:
// every file is listed, stat'ed and packed. It reports CPU time per file
// (the planner runs goroutines side by side, so wall time understates
// what planning takes from the workers), named as a folder and as a glob
// of its files. QUERN_BENCH_FOLDER plans an existing folder instead, such
// as quern bench's wordcount-tiny input.
func BenchmarkInputsFolder(b *testing.B) {
	dir := os.Getenv("QUERN_BENCH_FOLDER")
	if dir == "" {
		dir = b.TempDir()
		line := []byte("the quick brown fox jumps over the lazy dog\n")
		var doc []byte
		for len(doc) < 1000 {
			doc = append(doc, line...)
		}
		for i := range 20_000 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc-%05d.txt", i)), doc, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct{ name, input string }{
		{"folder", dir},
		// A glob's files are stat'ed by the listing's checks too, side
		// by side, as the folder's are.
		{"glob", filepath.Join(dir, "*.txt")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchInputs(b, Options{Inputs: []string{bc.input}, SplitSize: 32 << 20, Workers: 2, Reducers: 2})
		})
	}
}

func benchInputs(b *testing.B, o Options) {
	in, err := Inputs(b.Context(), o)
	if err != nil {
		b.Fatal(err)
	}
	files := len(in.Files)
	b.ReportAllocs()
	cpu := testenv.CPUTime()
	for b.Loop() {
		in, err := Inputs(b.Context(), o)
		if err != nil || len(in.Files) != files {
			b.Fatal(len(in.Files), err)
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(b.N*files), "cpu-ns/file")
}
