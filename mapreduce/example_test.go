package mapreduce_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/quern-dev/quern/mapreduce"
)

// lineLengths is registered at package level, as every job must be, so that
// worker processes started from this binary know it too.
var lineLengths = mapreduce.Register(&mapreduce.Job[string, int, string, int]{
	Name:        "example-longest-line",
	Description: "the longest line of each file",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int)) error {
		emit(filepath.Base(rec.File), len(rec.Value))
		return nil
	},
	// Combine keeps the larger length, so each map task sends one value
	// per file instead of one per line.
	Combine: func(a, b int) int { return max(a, b) },
	Reduce: func(_ *mapreduce.TaskContext, file string, lengths iter.Seq[int], emit func(string, int)) error {
		longest := 0
		for n := range lengths {
			longest = max(longest, n)
		}
		emit(file, longest)
		return nil
	},
})

// Example runs a job on two small files with the inline engine, which runs
// every task in this process; the default local engine runs the same job in
// forked workers.
func Example() {
	dir, _ := os.MkdirTemp("", "quern-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("short\nthe longest line\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("tiny\nmid size\n"), 0o644)
	out := filepath.Join(dir, "out")

	res, err := mapreduce.Run(context.Background(), lineLengths, mapreduce.Config{
		Engine:   mapreduce.EngineInline,
		Inputs:   []string{filepath.Join(dir, "*.txt")},
		Output:   out,
		Reducers: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	part, _ := os.ReadFile(filepath.Join(out, "part-00000"))
	fmt.Print(string(part))
	fmt.Println("lines read:", res.Counters[mapreduce.MapInputRecords])
	fmt.Println("parts:", strings.Join([]string{filepath.Base(res.Parts[0])}, ","))
	// Output:
	// a.txt	16
	// b.txt	8
	// lines read: 4
	// parts: part-00000
}
