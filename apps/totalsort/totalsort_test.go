package totalsort_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/totalsort"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

func runSort(t *testing.T, in string, records string, engine string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	_, err := mapreduce.Run(context.Background(), totalsort.Job, mapreduce.Config{
		Engine: engine, Inputs: []string{in}, Output: out, Workers: 2, Reducers: 4,
		SplitSize: 64 << 10, SortBuffer: 128 << 10, MergeFanIn: 4, TmpDir: t.TempDir(),
		Params: map[string]string{"records": records},
	})
	require.NoError(t, err)
	return out
}

// concatParts reads the part files of out in order, each of which must
// hold records: every reducer gets a share of the sampled ranges.
func concatParts(t *testing.T, out string) []byte {
	return readParts(t, out, true)
}

// readParts reads the part files of out in order; nonEmpty requires each
// to hold records.
func readParts(t *testing.T, out string, nonEmpty bool) []byte {
	parts, err := filepath.Glob(filepath.Join(out, "part-*"))
	require.NoError(t, err)
	slices.Sort(parts)
	var all []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		if nonEmpty {
			require.NotEmpty(t, b, "every reducer gets a share of sampled ranges: %s", p)
		}
		all = append(all, b...)
	}
	return all
}

func TestSortsGensortRecords(t *testing.T) {
	in := filepath.Join(t.TempDir(), "records.dat")
	f, err := os.Create(in)
	require.NoError(t, err)
	_, err = gen.Gensort(f, 20000, 7)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out := runSort(t, in, "auto", mapreduce.EngineLocal)
	got := concatParts(t, out)

	// Reference: the records sorted by key, stably, independently.
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	var recs [][]byte
	for i := 0; i < len(data); i += totalsort.RecordSize {
		recs = append(recs, data[i:i+totalsort.RecordSize])
	}
	slices.SortStableFunc(recs, func(a, b []byte) int { return bytes.Compare(a[:totalsort.KeySize], b[:totalsort.KeySize]) })
	require.Equal(t, bytes.Join(recs, nil), got)

	rep, err := totalsort.Validate([]string{out}, true)
	require.NoError(t, err)
	want, err := totalsort.Validate([]string{in}, true)
	require.NoError(t, err)
	require.True(t, rep.Ordered())
	require.Equal(t, want.Records, rep.Records)
	require.Equal(t, want.Checksum, rep.Checksum)
}

func TestSortsLinesAndInlineAgrees(t *testing.T) {
	in := filepath.Join(t.TempDir(), "text.txt")
	f, err := os.Create(in)
	require.NoError(t, err)
	_, err = gen.Text(f, 300<<10, 3)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	local := concatParts(t, runSort(t, in, "lines", mapreduce.EngineLocal))
	inline := concatParts(t, runSort(t, in, "lines", mapreduce.EngineInline))
	require.Equal(t, inline, local)

	data, err := os.ReadFile(in)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(lines)
	require.Equal(t, strings.Join(lines, "\n")+"\n", string(local))
}

func TestValidateFindsDisorder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "part-00000"), []byte("a\nb\nb\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "part-00001"), []byte("c\nba\nd\n"), 0o644))
	rep, err := totalsort.Validate([]string{dir}, false)
	require.NoError(t, err)
	require.False(t, rep.Ordered())
	require.Equal(t, int64(5), rep.FirstUnordered)
	require.Equal(t, int64(1), rep.Duplicates)
	require.Equal(t, int64(6), rep.Records)
	require.Contains(t, rep.String(), "FAILURE")
}

// BenchmarkReduce is the app's cost per gensort record on the reduce side,
// where nearly every key has one value: what Reduce does per call, not per
// value, dominates.
func BenchmarkReduce(b *testing.B) {
	key := []byte("0123456789")
	rest := bytes.Repeat([]byte("r"), 88)
	values := func(yield func([]byte) bool) { yield(rest) }
	var n int
	emit := func(rec []byte, _ mapreduce.None) { n += len(rec) }
	b.ReportAllocs()
	for b.Loop() {
		if err := totalsort.Job.Reduce(nil, key, values, emit); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("nothing emitted")
	}
}

// TestReduceUsesValuesInTheirIteration feeds Reduce values that are
// overwritten as soon as their loop iteration ends, which the Reduce
// contract allows, and checks the records it emits, the pooled reducer
// being reused across calls.
func TestReduceUsesValuesInTheirIteration(t *testing.T) {
	values := apptest.ScribbledValues
	var got []string
	emit := func(rec []byte, _ mapreduce.None) { got = append(got, string(rec)) }
	rest := func(c string) string { return "  " + strings.Repeat(c, 86) }
	// The map's values say what a record is: --records gensort's 88-byte
	// rests, auto's CR for a line with the gensort layout, nothing for a
	// line.
	require.NoError(t, totalsort.Job.Reduce(nil, []byte("key0000001"), values(rest("a"), rest("b")), emit))
	require.NoError(t, totalsort.Job.Reduce(nil, []byte("line"), values(""), emit))
	require.NoError(t, totalsort.Job.Reduce(nil, []byte("key0000002"), values(rest("c")), emit))
	// A line of a gensort record's length is a line: no CR added.
	require.NoError(t, totalsort.Job.Reduce(nil, []byte("key0000003"+rest("d")), values(""), emit))
	require.NoError(t, totalsort.Job.Reduce(nil, []byte("key0000004"+rest("e")), values("\r"), emit))
	require.Equal(t, []string{
		"key0000001" + rest("a") + "\r", "key0000001" + rest("b") + "\r",
		"line",
		"key0000002" + rest("c") + "\r",
		"key0000003" + rest("d"),
		"key0000004" + rest("e") + "\r",
	}, got)
}

// TestAutoKeepsTextAsText: under --records auto (the default), lines of 98
// bytes with two spaces after their tenth, as a date then a column make
// them, are sorted as the lines they are, with nothing added, among gensort
// records that keep their CRLF; validate-sort's auto mode takes the output
// for lines. Before, such a line was keyed by its date alone (out of
// order) and given a CR.
func TestAutoKeepsTextAsText(t *testing.T) {
	dated := func(c string) string { return "2024-01-01  " + strings.Repeat(c, 86) }
	var records bytes.Buffer
	_, err := gen.Gensort(&records, 3, 1)
	require.NoError(t, err)
	text := "2024-01-01  a short line\n" + dated("b") + "\n2024-01-01  c\n2024-01-01\n" + dated("a") + "\n"
	in := filepath.Join(t.TempDir(), "mixed.txt")
	require.NoError(t, os.WriteFile(in, append([]byte(text), records.Bytes()...), 0o644))

	// Eight records among four reducers: some parts may be empty.
	got := readParts(t, runSort(t, in, "auto", mapreduce.EngineInline), false)

	var want []string
	for _, line := range strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n") {
		want = append(want, strings.TrimSuffix(line, "\n")+"\n")
	}
	for rec := range bytes.Lines(records.Bytes()) {
		want = append(want, string(rec)) // with its CRLF
	}
	slices.SortFunc(want, func(a, b string) int {
		return strings.Compare(strings.TrimRight(a, "\r\n"), strings.TrimRight(b, "\r\n"))
	})
	require.Equal(t, strings.Join(want, ""), string(got))

	isGensort, err := totalsort.LooksGensort(in)
	require.NoError(t, err)
	require.False(t, isGensort, "a text file's first line")
}
