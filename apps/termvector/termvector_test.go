package termvector_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/internal/page"
	"github.com/quern-dev/quern/apps/termvector"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

var (
	hidden = regexp.MustCompile(`(?s)<!--.*?-->|<script>.*?</script>|<style>.*?</style>|<[^>]*>|&[a-zA-Z0-9#]+;`)
)

// reference decodes pages with encoding/json and net/url, drops markup with
// a regexp, and counts whole words lower-cased by strings.ToLower.
func reference(t *testing.T, paths []string, top int) (map[string]string, int64) {
	counts := map[string]map[string]int{}
	bad := apptest.ReadPages(t, paths, func(page, html string) {
		u, err := url.Parse(page)
		require.NoError(t, err)
		host := strings.ToLower(u.Hostname())
		text := hidden.ReplaceAllString(html, " ")
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if counts[host] == nil {
				counts[host] = map[string]int{}
			}
			counts[host][strings.ToLower(w)]++
		}
	})
	want := map[string]string{}
	type tc struct {
		term string
		n    int
	}
	for host, m := range counts {
		var all []tc
		for term, n := range m {
			all = append(all, tc{term, n})
		}
		slices.SortFunc(all, func(a, b tc) int {
			if a.n != b.n {
				return b.n - a.n
			}
			return strings.Compare(a.term, b.term)
		})
		var parts []string
		for _, e := range all[:min(top, len(all))] {
			parts = append(parts, fmt.Sprintf("%s:%d", e.term, e.n))
		}
		want[host] = strings.Join(parts, ",")
	}
	return want, bad
}

func TestTermVectorMatchesReference(t *testing.T) {
	dir := t.TempDir()
	// Two files of awkward hand-made pages, and one from `quern gen html`.
	inputs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"),
		apptest.Generate(t, dir, "gen.jsonl", "html", 300<<10, 6)}
	apptest.WritePages(t, inputs[0], 500, 3)
	apptest.WritePages(t, inputs[1], 300, 4)
	for _, top := range []int{3, termvector.DefaultTop} {
		want, bad := reference(t, inputs, top)
		require.Greater(t, len(want), 100)
		params := map[string]string{"top": fmt.Sprint(top)}
		if top == termvector.DefaultTop {
			params = nil
		}
		res, parts := apptest.Run(t, termvector.Job, inputs, apptest.Small, params)
		got := map[string]string{}
		for _, line := range apptest.Lines(parts) {
			host, terms, ok := strings.Cut(line, "\t")
			require.True(t, ok, line)
			got[host] = terms
		}
		require.Equal(t, want, got)
		require.Equal(t, bad, res.Counters[termvector.MalformedPages])
	}
}

func TestTerms(t *testing.T) {
	var p page.Parser
	var got []string
	p.Terms([]byte(`<p class="Hidden">Hello, WORLD&amp;Straße</p><!-- no --><SCRIPT>no</SCRIPT><style x>no</style>x1y&#233;z`), func(term []byte) {
		got = append(got, string(term))
	})
	require.Equal(t, []string{"hello", "world", "straße", "x", "y", "z"}, got)
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://A.Example/x":        "a.example",
		"http://u:p@h.example:80/":   "h.example",
		"HTTPS://h.example?q":        "h.example",
		"https://[::1]:8080/x":       "[::1]",
		"ftp://h.example/":           "",
		"https:///x":                 "",
		"https://bad host.example/x": "",
	} {
		h, ok := page.Host(nil, []byte(in))
		require.Equal(t, want != "", ok, in)
		require.Equal(t, want, string(h), in)
	}
}

// TestReduceIgnoresKeyOrder runs the registered job the way the Beam runner
// does, through mapreduce.ByteJob: map every page, merge some of each
// host's vectors with the portable combiner, and reduce the groups in
// ascending and in descending key order (values reversed too) into one
// output file each. Every host's line must be the reference's whatever the
// order, which is what an engine that groups without sorting needs.
func TestReduceIgnoresKeyOrder(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{filepath.Join(dir, "a.jsonl"), apptest.Generate(t, dir, "gen.jsonl", "html", 100<<10, 7)}
	apptest.WritePages(t, inputs[0], 200, 5)
	const top = 4
	want, bad := reference(t, inputs, top)

	job, ok := mapreduce.LookupByteJob(termvector.Job.Name)
	require.True(t, ok)
	require.NoError(t, mapreduce.Portable(job))
	combiner, ok := job.(mapreduce.Combiner)
	require.True(t, ok)
	params := map[string]string{"top": fmt.Sprint(top)}
	tc := mapreduce.NewTaskContext(context.Background(), termvector.Job.Name, "test", 1, params, slog.New(slog.DiscardHandler))

	groups := map[string][][]byte{}
	mapper, err := job.NewMapper(tc, mapreduce.EmitFunc(func(key, value []byte) {
		groups[string(key)] = append(groups[string(key)], slices.Clone(value))
	}))
	require.NoError(t, err)
	for _, path := range inputs {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var off int64
		for line := range strings.Lines(string(data)) {
			rec := mapreduce.Record{File: path, Offset: off, Value: []byte(strings.TrimSuffix(line, "\n"))}
			require.NoError(t, mapper.Map(rec))
			off += int64(len(line))
		}
	}
	require.NoError(t, mapper.Close())
	require.Equal(t, bad, tc.Counters()[termvector.MalformedPages])
	require.Len(t, groups, len(want))
	combined := 0
	for host, vs := range groups {
		if len(vs) >= 3 {
			v, err := combiner.Combine(vs[0], vs[1])
			require.NoError(t, err)
			groups[host] = append([][]byte{v}, vs[2:]...)
			combined++
		}
	}
	require.Positive(t, combined)

	hosts := slices.Sorted(maps.Keys(groups))
	for _, descending := range []bool{false, true} {
		order := slices.Clone(hosts)
		if descending {
			slices.Reverse(order)
		}
		path := filepath.Join(dir, fmt.Sprintf("out-%v", descending))
		out, err := job.NewReducer(tc, path, output.Options{})
		require.NoError(t, err)
		for _, host := range order {
			vs := slices.Clone(groups[host])
			if descending {
				slices.Reverse(vs)
			}
			require.NoError(t, out.Reduce([]byte(host), slices.Values(vs)))
		}
		require.NoError(t, out.Close())
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var gotOrder []string
		got := map[string]string{}
		for _, line := range apptest.Lines([][]byte{data}) {
			host, terms, ok := strings.Cut(line, "\t")
			require.True(t, ok, line)
			gotOrder = append(gotOrder, host)
			got[host] = terms
		}
		require.Equal(t, want, got, "descending %v", descending)
		require.Equal(t, order, gotOrder, "lines follow the order of the groups")
	}
}

// TestValueCodec checks that term vectors survive their codec, and that
// every truncation or corruption of an encoding is an error, not a panic or
// a wrong vector.
func TestValueCodec(t *testing.T) {
	c := termvector.Job.ValueCodec
	for _, v := range []termvector.TermVector{{}, {"a": 1}, {"the": 5, "of": 1, "straße": 1 << 40, "": 3}} {
		b := c.Append([]byte("junk"), v)[4:]
		got, err := c.Decode(b)
		require.NoError(t, err)
		require.Equal(t, v, got)
		for i := range len(b) {
			_, err := c.Decode(b[:i])
			require.ErrorIs(t, err, mapreduce.ErrCodec, "prefix %d of %q", i, b)
		}
		_, err = c.Decode(append(slices.Clone(b), 0))
		require.ErrorIs(t, err, mapreduce.ErrCodec)
	}
	for _, b := range []string{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "\x01\x05ab", "\x01\x01a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"} {
		_, err := c.Decode([]byte(b))
		require.ErrorIs(t, err, mapreduce.ErrCodec, "%q", b)
	}
}

func TestMerge(t *testing.T) {
	a := termvector.TermVector{"x": 1, "y": 2}
	b := termvector.TermVector{"y": 3, "z": 4}
	got := termvector.Merge(a, b)
	require.Equal(t, termvector.TermVector{"x": 1, "y": 5, "z": 4}, got)
	require.Equal(t, termvector.TermVector{"y": 3, "z": 4}, b, "b is not changed")
	require.Equal(t, termvector.TermVector{"y": 3, "z": 4}, termvector.Merge(nil, b))
}
