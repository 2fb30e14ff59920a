package mapreduce_test

import (
	"bytes"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// sortLines sorts lines into total order across reducers.
var sortLines = mapreduce.Register(&mapreduce.Job[[]byte, mapreduce.None, []byte, mapreduce.None]{
	Name:       "test-sort",
	TotalOrder: true,
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, mapreduce.None)) error {
		emit(rec.Value, mapreduce.None{})
		return nil
	},
	Reduce: func(_ *mapreduce.TaskContext, line []byte, vs iter.Seq[mapreduce.None], emit func([]byte, mapreduce.None)) error {
		for range vs {
			emit(line, mapreduce.None{})
		}
		return nil
	},
})

type visit struct {
	Page string
	Time int64
}

// visitsByTime lists each user's pages in time order by secondary sort.
var visitsByTime = mapreduce.Register(&mapreduce.Job[string, visit, string, string]{
	Name: "test-secondary-sort",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, visit)) error {
		var user, page string
		var t int64
		if _, err := fmt.Sscan(string(rec.Value), &user, &page, &t); err != nil {
			return err
		}
		// Underscores stand for NUL bytes, so keys hold 0x00, which the
		// composite key encoding must escape.
		emit(strings.ReplaceAll(user, "_", "\x00"), visit{page, t})
		return nil
	},
	SortValues: mapreduce.ValueOrder(func(v visit) int64 { return v.Time }),
	Reduce: func(_ *mapreduce.TaskContext, user string, visits iter.Seq[visit], emit func(string, string)) error {
		var pages []string
		for v := range visits {
			pages = append(pages, fmt.Sprintf("%s@%d", v.Page, v.Time))
		}
		emit(user, strings.Join(pages, ","))
		return nil
	},
})

func TestTotalOrderAcrossParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in bytes.Buffer
	var want []string
	for range 20000 {
		line := fmt.Sprintf("%08x-%d", rng.Uint32(), rng.IntN(3))
		if rng.IntN(10) == 0 && len(want) > 0 {
			line = want[rng.IntN(len(want))] // duplicates
		}
		want = append(want, line)
		in.WriteString(line + "\n")
	}
	slices.Sort(want)
	path := filepath.Join(t.TempDir(), "lines.txt")
	require.NoError(t, os.WriteFile(path, in.Bytes(), 0o644))

	l := layout{workers: 2, reducers: 5, splitSize: 32 << 10, sortBuf: 64 << 10, fanIn: 4, codec: "lz4"}
	_, out := runJob(t, sortLines, mapreduce.EngineLocal, []string{path}, l, nil)
	var got []string
	for r, part := range readParts(t, out, l.reducers) {
		lines := strings.Split(strings.TrimSuffix(string(part), "\n"), "\n")
		require.Greater(t, len(lines), len(want)/l.reducers/3, "part %d holds too few lines for sampled ranges", r)
		got = append(got, lines...)
	}
	require.Equal(t, want, got, "the parts in order must hold every line in global order")
}

func TestSecondarySortOrdersValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var in bytes.Buffer
	want := map[string][]visit{}
	for i := range 5000 {
		user := fmt.Sprintf("user\x00%d", rng.IntN(40)) // a NUL inside the key must not confuse grouping
		v := visit{Page: fmt.Sprintf("p%d", i), Time: rng.Int64N(1000) - 500}
		fmt.Fprintf(&in, "%s %s %d\n", strings.ReplaceAll(user, "\x00", "_"), v.Page, v.Time)
		want[user] = append(want[user], v)
	}
	path := filepath.Join(t.TempDir(), "visits.txt")
	require.NoError(t, os.WriteFile(path, in.Bytes(), 0o644))

	l := layout{workers: 2, reducers: 3, splitSize: 8 << 10, sortBuf: 64 << 10, fanIn: 3, codec: "zstd"}
	_, out := runJob(t, visitsByTime, mapreduce.EngineLocal, []string{path}, l, nil)
	_, inlineOut := runJob(t, visitsByTime, mapreduce.EngineInline, []string{path}, l, nil)
	parts := readParts(t, out, l.reducers)
	require.Equal(t, readParts(t, inlineOut, l.reducers), parts)
	got := map[string]string{}
	for _, p := range parts {
		for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
			k, v, _ := strings.Cut(line, "\t")
			got[k] = v
		}
	}
	require.Len(t, got, len(want))
	for user, visits := range want {
		// Stable: equal times keep input order, which is emit order.
		slices.SortStableFunc(visits, func(a, b visit) int { return int(a.Time - b.Time) })
		var pages []string
		for _, v := range visits {
			pages = append(pages, fmt.Sprintf("%s@%d", v.Page, v.Time))
		}
		require.Equal(t, strings.Join(pages, ","), got[user], user)
	}
}
