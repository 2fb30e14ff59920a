// Package apptest runs the bundled apps end to end in tests: through the
// local engine's forked workers and through the inline engine, on layouts
// small enough to force many splits, spills and merge passes.
package apptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// Layout is the machine shape a test runs a job with.
type Layout struct {
	Workers, Reducers  int
	SplitSize, SortBuf int64
}

// Small is the layout the app tests use: several reducers, 16 KiB splits and
// the smallest sort buffer, so that even a few hundred KiB of input makes
// many map tasks, several spills per task and multi-pass merges.
var Small = Layout{Workers: 2, Reducers: 3, SplitSize: 16 << 10, SortBuf: 64 << 10}

// Generate writes size bytes of the gen generator kind with seed to a file
// named name in dir and returns its path.
func Generate(t testing.TB, dir, name, kind string, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = gen.Generate(kind, f, size, seed)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

// Run runs job on inputs with the local engine and with the inline engine,
// requires both to succeed with byte-identical part files, and returns the
// local engine's result and its part files' contents in part order.
func Run[K, V, OK, OV any](t *testing.T, job *mapreduce.Job[K, V, OK, OV], inputs []string, l Layout, params map[string]string) (*mapreduce.Result, [][]byte) {
	t.Helper()
	res, parts := RunEngine(t, job, mapreduce.EngineLocal, inputs, l, params)
	_, inline := RunEngine(t, job, mapreduce.EngineInline, inputs, l, params)
	require.Equal(t, len(parts), len(inline))
	for i := range parts {
		require.True(t, bytes.Equal(parts[i], inline[i]), "part %d differs between the local and inline engines", i)
	}
	return res, parts
}

// RunEngine runs job once with the named engine and returns its result and
// part files. It checks that the work directory was removed.
func RunEngine[K, V, OK, OV any](t *testing.T, job *mapreduce.Job[K, V, OK, OV], engine string, inputs []string, l Layout, params map[string]string) (*mapreduce.Result, [][]byte) {
	t.Helper()
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	res, err := mapreduce.Run(context.Background(), job, mapreduce.Config{
		Engine: engine, Inputs: inputs, Output: out, Workers: l.Workers, Reducers: l.Reducers,
		SplitSize: l.SplitSize, SortBuffer: l.SortBuf, TmpDir: tmp, Params: params,
	})
	require.NoError(t, err)
	return res, readParts(t, tmp, out, l.Reducers)
}

// RunPipeline is Run for a pipeline: it runs p on both engines, requires
// byte-identical part files, and returns the local engine's result and
// parts.
func RunPipeline(t *testing.T, p *pipeline.Pipeline, inputs []string, l Layout, params map[string]string) (*pipeline.Result, [][]byte) {
	t.Helper()
	var res *pipeline.Result
	var parts [2][][]byte
	for i, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
		r, err := p.Run(context.Background(), mapreduce.Config{
			Engine: engine, Inputs: inputs, Output: out, Workers: l.Workers, Reducers: l.Reducers,
			SplitSize: l.SplitSize, SortBuffer: l.SortBuf, TmpDir: tmp, Params: params,
		})
		require.NoError(t, err)
		if i == 0 {
			res = r
		}
		parts[i] = readParts(t, tmp, out, l.Reducers)
	}
	for i := range parts[0] {
		require.True(t, bytes.Equal(parts[0][i], parts[1][i]), "part %d differs between the local and inline engines", i)
	}
	return res, parts[0]
}

// readParts checks that the work directory in tmp was removed and that out
// has _SUCCESS, and returns out's part files.
func readParts(t *testing.T, tmp, out string, reducers int) [][]byte {
	t.Helper()
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "work directory left in %s", tmp)
	var parts [][]byte
	for r := range reducers {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("part-%05d", r)))
		require.NoError(t, err)
		parts = append(parts, data)
	}
	_, err = os.Stat(filepath.Join(out, "_SUCCESS"))
	require.NoError(t, err)
	return parts
}

// Lines splits part files into lines, in part order, without terminators.
func Lines(parts [][]byte) []string {
	var lines []string
	for _, p := range parts {
		for len(p) > 0 {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				lines = append(lines, string(p))
				break
			}
			lines = append(lines, string(p[:i]))
			p = p[i+1:]
		}
	}
	return lines
}

// WritePages writes n crawled pages as JSON lines {"url":...,"html":...} to
// path, with what real pages hold: links absolute, relative, repeated, with
// fragments, to mailto:, entity-escaped; comments, <script> and <style>;
// upper case and non-ASCII letters; and encoding/json's \u003c escapes. It
// ends with two lines that are not pages.
func WritePages(t testing.TB, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	words := []string{"the", "of", "Quern", "straße", "Ωmega", "data", "flow", "mill", "grain", "stone", "wheel", "river"}
	hosts := []string{"a.example", "b.example", "C.Example", "d.example:8080"}
	pageURL := func(i int) string {
		return fmt.Sprintf("https://%s/p/%d.html", hosts[i%len(hosts)], i)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range n {
		var h strings.Builder
		fmt.Fprintf(&h, "<!DOCTYPE html>\n<html><head><title>%s</title><style>p { color: red }</style></head>\n<body>", words[rng.IntN(len(words))])
		for range 3 + rng.IntN(20) {
			switch r := rng.IntN(12); {
			case r < 6:
				fmt.Fprintf(&h, "%s ", words[min(rng.IntN(len(words)), rng.IntN(len(words)))])
			case r < 8:
				fmt.Fprintf(&h, `<a href="%s#frag">%s</a> `, pageURL(rng.IntN(n+5)), words[rng.IntN(len(words))])
			case r < 9:
				fmt.Fprintf(&h, `<A class="x" HREF="../p/%d.html">rel</A> `, rng.IntN(n))
			case r < 10:
				fmt.Fprintf(&h, `<a href="https://e.example/q?a=1&amp;b=2">q&amp;a</a> `)
			case r < 11:
				h.WriteString(`<a href="mailto:x@y.example">mail</a><!-- hidden words --><script>var hidden = "<a href='https://no.example/'>";</script> `)
			default:
				h.WriteString("<p>\n")
			}
		}
		h.WriteString("</body></html>\n")
		require.NoError(t, enc.Encode(map[string]string{"url": pageURL(i), "html": h.String()}))
	}
	b.WriteString("{\"url\": 5}\nnot json at all\n")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// ReadPages decodes JSON-lines pages ({"url": ..., "html": ...}) with
// encoding/json, independently of the apps' own parser, and calls fn for
// each well-formed one. It returns how many lines were not pages.
func ReadPages(t testing.TB, paths []string, fn func(url, html string)) (malformed int64) {
	t.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var pg struct{ URL, HTML *string }
			if json.Unmarshal(sc.Bytes(), &pg) != nil || pg.URL == nil || pg.HTML == nil {
				malformed++
				continue
			}
			fn(*pg.URL, *pg.HTML)
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return malformed
}

// ScribbledValues yields values the way the merge may hand []byte values to
// Reduce, through one buffer, and overwrites the buffer after each loop
// iteration: the worst the Reduce contract allows (a []byte value is valid
// only until the iterator yields the next one). A Reduce that keeps a value
// without copying it sees the scribble or the next value.
func ScribbledValues(values ...string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		buf := make([]byte, 0, 1<<10) // never regrown, so always one buffer
		for _, v := range values {
			buf = append(buf[:0], v...)
			ok := yield(buf)
			for i := range buf {
				buf[i] = '#'
			}
			if !ok {
				return
			}
		}
	}
}

// MapTask runs one map task of the registered job name in this process,
// as a worker would but without reading input: records handed to the
// job's mapper in order, its pairs through the combining table into a
// sort buffer of 64 MiB and two partitions, spilled under dir when it
// closes. It returns the number of runs spilled and the task's counters.
// A benchmark of a map side's per-record path calls it in its loop.
func MapTask(tb testing.TB, dir, name string, records iter.Seq[mapreduce.Record]) (runs int, counters mapreduce.Counters) {
	tb.Helper()
	job, ok := mapreduce.LookupByteJob(name)
	if !ok {
		tb.Fatalf("%s is not registered", name)
	}
	out := mapreduce.NewSortedRuns(filepath.Join(dir, "run"), spill.Options{Partitions: 2, BlockSize: mapreduce.RunBlockSize},
		shuffle.HashPartitioner{}, 64<<20, mapreduce.Counters{})
	tc := mapreduce.NewTaskContext(context.Background(), name, "map-00000", 1, nil, nil)
	m, err := job.NewMapper(tc, out)
	if err != nil {
		tb.Fatal(err)
	}
	for rec := range records {
		if err := m.Map(rec); err != nil {
			tb.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		tb.Fatal(err)
	}
	spilled, err := out.Close()
	if err != nil {
		tb.Fatal(err)
	}
	return len(spilled), tc.Counters()
}
