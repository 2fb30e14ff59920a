package beamjob

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSorterSpillsAndMerges sorts the same pairs in memory and with a
// memory bound that spills dozens of runs: the orders agree, equal keys
// keep the order they were added in, and reset removes the runs.
func TestSorterSpillsAndMerges(t *testing.T) {
	type pair struct{ k, v string }
	var pairs []pair
	for i := range 3000 {
		pairs = append(pairs, pair{fmt.Sprintf("k%04d", (i*7919)%997), fmt.Sprintf("v%05d", i)})
	}
	want := slices.Clone(pairs)
	slices.SortStableFunc(want, func(a, b pair) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })

	for _, limit := range []int64{1 << 30, 4 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			tmp := t.TempDir()
			s := &sorter{limit: limit, tempDir: tmp, what: "test"}
			for round := range 2 { // the second round reuses the sorter
				for _, p := range pairs {
					require.NoError(t, s.add([]byte(p.k), []byte(p.v)))
				}
				if limit < 1<<20 {
					require.Greater(t, len(s.runs), 8, "the bound should have spilled runs")
				} else {
					require.Empty(t, s.runs)
				}
				it, err := s.sorted()
				require.NoError(t, err)
				var got []pair
				for kv := it.Next(); kv != nil; kv = it.Next() {
					got = append(got, pair{string(kv.Key), string(kv.Value)})
				}
				require.NoError(t, it.Close())
				require.Equal(t, want, got, "round %d", round)
				s.reset()
				entries, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, entries, "reset left %v in %s", entries, filepath.Base(tmp))
			}
			s.release()
		})
	}
}
