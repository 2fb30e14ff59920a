package urlcount_test

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/urlcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// The reference parser: the generator's own pattern for Combined lines, and
// its prefix for Common ones (a torn write may end right after BYTES).
var (
	combined = regexp.MustCompile(gen.CombinedLogPattern)
	common   = regexp.MustCompile(strings.TrimSuffix(gen.CombinedLogPattern, ` "([^"]*)" "([^"]*)"$`) + `$`)
)

func reference(t *testing.T, paths []string) (counts map[string]int64, malformed int64) {
	counts = map[string]int64{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			line = strings.TrimSuffix(line, "\r")
			m := combined.FindStringSubmatch(line)
			if m == nil {
				m = common.FindStringSubmatch(line)
			}
			if m == nil {
				malformed++
				continue
			}
			path, _, _ := strings.Cut(m[6], "?")
			path, _, _ = strings.Cut(path, "#")
			counts[path]++
		}
	}
	return counts, malformed
}

func TestURLCountMatchesReference(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{
		apptest.Generate(t, dir, "a.log", "logs", 300<<10, 1),
		apptest.Generate(t, dir, "b.log", "logs", 200<<10, 2),
		dir + "/c.log",
	}
	// At 0.1%, a few hundred KiB may hold no malformed line: add some.
	require.NoError(t, os.WriteFile(inputs[2], []byte(
		"not a log line\n"+
			`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /torn HTTP/1.1" 200 5123 "-" "Mozi`+"\n"+
			`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /common?x=1 HTTP/1.1" 200 5123`+"\r\n"+
			"\n"), 0o644))
	want, malformed := reference(t, inputs)
	require.Positive(t, malformed, "the generator writes malformed lines at 0.1%%")
	require.Greater(t, len(want), 100)

	res, parts := apptest.Run(t, urlcount.Job, inputs, apptest.Small, nil)
	got := map[string]int64{}
	for i, part := range parts {
		var prev string
		for _, line := range apptest.Lines([][]byte{part}) {
			path, n, ok := strings.Cut(line, "\t")
			require.True(t, ok, line)
			require.Greater(t, path, prev, "part %d not sorted", i)
			prev = path
			got[path], _ = strconv.ParseInt(n, 10, 64)
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, malformed, res.Counters[urlcount.MalformedLines])
	require.Less(t, res.Counters[mapreduce.CombineOutputRecords], res.Counters[mapreduce.CombineInputRecords],
		"the combiner must cut the shuffle")
	require.Empty(t, res.Warnings, "a log with some malformed lines is a log")
}

// TestInputOfAnotherKindWarns: urlcount over a word count's output reads
// no line as a log line; its empty output comes with a warning saying so,
// in the result (and so in _job.json and on stderr).
func TestInputOfAnotherKindWarns(t *testing.T) {
	in := t.TempDir() + "/counts.txt"
	require.NoError(t, os.WriteFile(in, []byte("the\t12\nquern\t3\n"), 0o644))
	res, parts := apptest.Run(t, urlcount.Job, []string{in}, apptest.Small, nil)
	require.Empty(t, apptest.Lines(parts))
	require.Equal(t, []string{"urlcount could read none of its 2 input records (malformed_lines 2), so its output is empty: " +
		"is the input what it reads? (" + urlcount.Job.Description + ")"}, res.Warnings)
}

func TestPath(t *testing.T) {
	const ua = ` "-" "Mozilla/5.0 (X11; Linux x86_64)"`
	for _, tc := range []struct {
		line, path string
	}{
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a/b HTTP/1.1" 200 5123` + ua, "/a/b"},
		{`1.2.3.4 - bob [01/Mar/2024:00:00:01 +0000] "POST /search?q=x&p=2 HTTP/2.0" 404 -` + ua, "/search"},
		{`::1 id user [t] "HEAD /x#frag HTTP/1.0" 304 -`, "/x"}, // Common Log Format
		{`h - - [t] "GET / HTTP/1.1" 200 0 "" ""`, "/"},
		// Malformed.
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a/b HTTP/1.1" 200 51`[:40], ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a/b HTTP/1.1" 200 5123 "-" "Mozil`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "\x16\x03\x01\x00\xa5\x01" 400 0 "-" "-"`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "get /a HTTP/1.1" 200 1`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a HTTPS/1.1" 200 1`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a HTTP/1.1" 20 1`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a HTTP/1.1" 200 x`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-"`, ""},
		{`1.2.3.4 - - [01/Mar/2024:00:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-" "-" x`, ""},
		{`1.2.3.4 -  - [t] "GET /a HTTP/1.1" 200 1`, ""},
		{"1.2.3.4\t- - [t] \"GET /a HTTP/1.1\" 200 1", ""},
		{`1.2.3.4 - - [] "GET /a HTTP/1.1" 200 1`, ""},
		{`1.2.3.4 - - [t]"GET /a HTTP/1.1" 200 1`, ""},
		{`the quick brown fox`, ""},
		{``, ""},
	} {
		path, ok := urlcount.Path([]byte(tc.line))
		require.Equal(t, tc.path != "", ok, "%q", tc.line)
		require.Equal(t, tc.path, string(path), "%q", tc.line)
		ref := combined.MatchString(tc.line) || common.MatchString(tc.line)
		require.Equal(t, ref, ok, "parser and reference disagree on %q", tc.line)
	}
}

func BenchmarkPath(b *testing.B) {
	var buf bytes.Buffer
	_, err := gen.AccessLog(&buf, 4<<20, 1)
	require.NoError(b, err)
	lines := bytes.Split(buf.Bytes(), []byte("\n"))
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			urlcount.Path(l)
		}
	}
}
