package mapreduce_test

import (
	"bytes"
	"fmt"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// wordSet is a value that grows as it combines and says how big it is.
type wordSet map[string]bool

func (s wordSet) Size() int { return len(s) * 64 }

// distinctWords unions every line's words into one set under one key: the
// combining table holds a single entry that keeps growing.
var distinctWords = mapreduce.Register(&mapreduce.Job[string, wordSet, string, int]{
	Name: "test-sizer",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, wordSet)) error {
		set := wordSet{}
		for _, w := range bytes.Fields(rec.Value) {
			set[string(w)] = true
		}
		emit("all", set)
		return nil
	},
	Combine: func(a, b wordSet) wordSet {
		maps.Copy(a, b)
		return a
	},
	Reduce: func(_ *mapreduce.TaskContext, k string, sets iter.Seq[wordSet], emit func(string, int)) error {
		all := wordSet{}
		for s := range sets {
			maps.Copy(all, s)
		}
		emit(k, len(all))
		return nil
	},
})

func TestSizerMakesGrowingValuesSpill(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "w%d w%d\n", i, i/2)
	}
	path := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	l := layout{workers: 1, reducers: 1, splitSize: 1 << 20, sortBuf: 64 << 10, fanIn: 8, codec: "lz4"}
	res, out := runJob(t, distinctWords, mapreduce.EngineLocal, []string{path}, l, nil)
	require.Greater(t, res.Counters[mapreduce.SpillFiles], int64(5),
		"one key whose set outgrows a 64 KiB budget must spill many times")
	require.Equal(t, map[string]int64{"all": 20000}, parseCounts(t, readParts(t, out, 1)))
}
