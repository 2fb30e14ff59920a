package mapreduce

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/spill"
)

// combineRun feeds pairs through one task's combining emitter with the
// given budget and returns what its runs hold, summed per key by fold (a
// key appears once per run that it was flushed into), and the number of
// runs.
func combineRun[K, V any](t *testing.T, c *compiled[K, V, K, V], budget int64, pairs func(emit func(K, V)), fold func(a, b string) string) (map[string]string, int) {
	t.Helper()
	counters := Counters{}
	out := NewSortedRuns(filepath.Join(t.TempDir(), "run"), spill.Options{Partitions: 3, BlockSize: RunBlockSize}, c.part, 1<<30, counters)
	var failed error
	emit, finish, _ := NewCombiner(c.keys, c.values, c.job.Combine, out, counters, budget, func(err error) { failed = cmp.Or(failed, err) })
	pairs(emit)
	finish()
	runs, err := out.Close()
	if err = cmp.Or(err, failed); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var records int64
	for _, run := range runs {
		r, err := spill.Open(run.Path)
		if err != nil {
			t.Fatal(err)
		}
		for p := range r.Partitions() {
			it, err := r.Segment(p)
			if err != nil {
				t.Fatal(err)
			}
			for kv := it.Next(); kv != nil; kv = it.Next() {
				records++
				v, err := c.values.Decode(kv.Value)
				if err != nil {
					t.Fatal(err)
				}
				s := fmt.Sprint(v)
				if old, ok := got[string(kv.Key)]; ok {
					s = fold(old, s)
				}
				got[string(kv.Key)] = s
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if counters[CombineOutputRecords] != records {
		t.Errorf("CombineOutputRecords = %d, runs hold %d", counters[CombineOutputRecords], records)
	}
	return got, len(runs)
}

func addDecimal(a, b string) string {
	var x, y int64
	fmt.Sscan(a, &x)
	fmt.Sscan(b, &y)
	return fmt.Sprint(x + y)
}

// TestCombinerCounts checks the word count's path (a []byte key passed to
// the table as it is, an int64 kept in the table's entry) against a Go map:
// with keys whose capacity runs past their length over changing bytes, and
// keys with less than 16 bytes of capacity; with a budget that flushes many
// times; and over several tasks, which reuse one pooled table.
func TestCombinerCounts(t *testing.T) {
	c, err := countJob.compile()
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields("a b a ab abcdefghijklmnop abcdefghijklmnopq abcdefghijklmnopqrstuvwxyz0123456789 b a " +
		"abcdefgh abcdefghi x y z a")
	for _, budget := range []int64{1, 300, 1 << 20} {
		for task := range 3 {
			want := map[string]string{}
			got, runs := combineRun(t, c, budget, func(emit func([]byte, int64)) {
				buf := make([]byte, 0, 128)
				for i := range 200 {
					w := words[(i*7+task)%len(words)]
					n := int64(i%5 + 1)
					// The key sits at the start of buf, followed by bytes
					// that change on every emit; every third key instead
					// has exactly its length as capacity.
					buf = append(append(buf[:0], w...), byte(i), byte(i>>8), 'z')
					key := buf[:len(w)]
					if i%3 == 0 {
						key = []byte(w)[:len(w):len(w)]
					}
					emit(key, n)
					want[w] = addDecimal(want[w], fmt.Sprint(n))
				}
			}, addDecimal)
			if !maps.Equal(got, want) {
				t.Errorf("budget %d, task %d: got %v, want %v", budget, task, got, want)
			}
			if budget == 1 && runs < 20 {
				t.Errorf("budget 1: %d runs, want one per distinct key at least", runs)
			}
		}
	}
}

// TestCombinerSlots checks the path for values that cannot live in a table
// entry (a string) under a key codec that encodes (an int key).
func TestCombinerSlots(t *testing.T) {
	job := &Job[int, string, int, string]{
		Name:    "concat",
		Map:     func(*TaskContext, Record, func(int, string)) error { return nil },
		Combine: func(a, b string) string { return a + b },
		Reduce:  func(*TaskContext, int, iter.Seq[string], func(int, string)) error { return nil },
	}
	c, err := job.compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int64{1, 1 << 20} {
		want := map[string]string{}
		got, _ := combineRun(t, c, budget, func(emit func(int, string)) {
			for i := range 100 {
				k, v := i%7-3, string(rune('a'+i%26))
				emit(k, v)
				want[string(c.keys.Append(nil, k))] += v
			}
		}, func(a, b string) string { return a + b })
		if !maps.Equal(got, want) {
			t.Errorf("budget %d: got %v, want %v", budget, got, want)
		}
	}
}

// tallyOutput is a MapOutput that sums the int64 values it is given per
// key and counts its Spill calls.
type tallyOutput struct {
	values Codec[int64]
	sums   map[string]int64
	emits  int64
	spills int
}

func (o *tallyOutput) Emit(key, value []byte) {
	v, err := o.values.Decode(value)
	if err != nil {
		panic(err)
	}
	o.sums[string(key)] += v
	o.emits++
}
func (o *tallyOutput) Spill()        { o.spills++ }
func (o *tallyOutput) Budget() int64 { return 1 << 30 }

// TestCombinerWindow: a table that folds less than a tenth of a task's
// pairs away is shrunk to a window once it has seen windowSample pairs,
// and the rest are counted as windowed; a table that folds more is kept to
// the end. Either way the sums and the counters are right, and the output
// spills about once per budget, not once per window.
func TestCombinerWindow(t *testing.T) {
	testenv.SkipUnderRace(t, "the combiner's window")
	c, err := countJob.compile()
	if err != nil {
		t.Fatal(err)
	}
	const pairs = 8 * windowSample
	for _, tc := range []struct {
		name     string
		key      func(i int) string
		windowed bool // whether the table is shrunk
	}{
		{"distinct", func(i int) string { return fmt.Sprintf("k%07d", i) }, true},
		// Three pairs of four fold into 50 keys, the fourth is new.
		{"folding", func(i int) string {
			if i%4 == 0 {
				return fmt.Sprintf("k%07d", i)
			}
			return fmt.Sprintf("w%02d", i%50)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counters := Counters{}
			out := &tallyOutput{values: c.values, sums: map[string]int64{}}
			emit, finish, _ := NewCombiner(c.keys, c.values, c.job.Combine, out, counters, 1<<20, func(err error) { t.Fatal(err) })
			want := map[string]int64{}
			for i := range pairs {
				k := tc.key(i)
				emit([]byte(k), int64(i%3+1))
				want[k] += int64(i%3 + 1)
			}
			finish()
			require.Equal(t, want, out.sums)
			require.Equal(t, int64(pairs), counters[CombineInputRecords])
			require.Equal(t, out.emits, counters[CombineOutputRecords])
			// The table, whose 1 MiB holds 15,887 keys, is judged at its
			// first flush after windowSample pairs.
			windowed := counters[CombineWindowedRecords]
			if tc.windowed {
				require.LessOrEqual(t, windowed, int64(pairs-windowSample))
				require.Greater(t, windowed, int64(pairs-windowSample-15887), "the table must be shrunk")
				require.Equal(t, int64(pairs), out.emits)
			} else {
				require.Zero(t, windowed, "a table that folds must be kept")
				require.Less(t, out.emits, int64(pairs/2))
			}
			// About a spill per MiB of the pairs' bytes either way: 33
			// for the distinct stream (a spill per window's flush
			// would make it 116), 9 for the folding one.
			require.LessOrEqual(t, out.spills, 40)
		})
	}
}
