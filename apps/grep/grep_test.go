package grep_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/grep"
	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// reference greps whole files: it splits each on "\n", drops a "\r" that
// ends a line, and prints matches in the order grep would. lines is how
// many lines the files hold.
func reference(t *testing.T, re *regexp.Regexp, paths []string) (out []string, lines int64) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		off := 0
		for len(data) > 0 {
			line := data
			next := len(data)
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, next = data[:i], i+1
				line = bytes.TrimSuffix(line, []byte("\r"))
			}
			if re.Match(line) {
				out = append(out, fmt.Sprintf("%s:%d\t%s", p, off, line))
			}
			lines++
			off += next
			data = data[next:]
		}
	}
	return out, lines
}

func TestGrepMatchesReference(t *testing.T) {
	dir := t.TempDir()
	a := apptest.Generate(t, dir, "a.txt", "text", 300<<10, 1)
	// b.txt sorts after a.txt and c is a prefix of neither: it checks the
	// (file, offset) order across files, CRLF and a last line without '\n'.
	b := filepath.Join(dir, "b.txt")
	require.NoError(t, os.WriteFile(b, []byte("the end\r\n\xff\xfe the \x00 bytes\n\nno newline the"), 0o644))
	c := apptest.Generate(t, dir, "a.txt.more", "text", 100<<10, 2)
	inputs := []string{a, b, c}
	// The last three have a literal prefix that map tasks search their
	// input for (Job.LineFilter): "the ", "The" and "end", which ends
	// b.txt's CRLF line.
	for _, pattern := range []string{`\bthe\b`, `^[A-Z][a-z]+ of`, `\x00|qu`, `the [a-z]+ing`, `^The`, `end$`} {
		t.Run(pattern, func(t *testing.T) {
			want, lines := reference(t, regexp.MustCompile(pattern), []string{a, c, b})
			res, parts := apptest.Run(t, grep.Job, inputs, apptest.Small, map[string]string{"pattern": pattern})
			got := apptest.Lines(parts)
			require.NotEmpty(t, want)
			require.Equal(t, want, got, "concatenated parts must be in (file, offset) order")
			require.Equal(t, int64(len(want)), res.Counters[mapreduce.ReduceOutputRecords])
			require.Equal(t, lines, res.Counters[mapreduce.MapInputRecords], "lines passed over are read all the same")
			prefix, _ := regexp.MustCompile(pattern).LiteralPrefix()
			held, _ := reference(t, regexp.MustCompile(regexp.QuoteMeta(prefix)), []string{a, c, b})
			holding := int64(len(held))
			require.Equal(t, lines-holding, res.Counters[mapreduce.FilteredInputRecords], "lines without %q", prefix)
			require.Greater(t, res.Splits, 15)
		})
	}
}

// TestLineFilter checks the bytes grep's map tasks search for: a line
// without them cannot match.
func TestLineFilter(t *testing.T) {
	for pattern, want := range map[string]string{
		`the [a-z]+ing`: "the ", `^The`: "The", `" 50[0-9] `: `" 50`,
		`\bthe\b`: "", `(?i)the`: "", `a|b`: "", `a(`: "",
	} {
		got := grep.Job.LineFilter(func(string) string { return pattern })
		require.Equal(t, want, string(got), pattern)
	}
}

func TestGrepBadPatternFails(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\nb\n"), 0o644))
	_, err := mapreduce.Run(t.Context(), grep.Job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(dir, "out"),
		Reducers: 1, TmpDir: t.TempDir(), Params: map[string]string{"pattern": "a("}, MaxAttempts: 1,
	})
	require.ErrorContains(t, err, `grep: --pattern "a("`)
}

func TestMatchCodecOrder(t *testing.T) {
	ms := []grep.Match{
		{"a", -1}, {"a", 0}, {"a", 9}, {"a", 10}, {"a", 1 << 40},
		{"a.txt", 0}, {"ab", 0}, {"b", 0},
	}
	var c grep.MatchCodec
	for i := range ms {
		enc := c.Append(nil, ms[i])
		got, err := c.Decode(enc)
		require.NoError(t, err)
		require.Equal(t, ms[i], got)
		if i > 0 {
			require.Negative(t, bytes.Compare(c.Append(nil, ms[i-1]), enc), "%v before %v", ms[i-1], ms[i])
		}
	}
	for _, bad := range [][]byte{nil, []byte("short"), []byte("a\x01\x00\x00\x00\x00\x00\x00\x00\x00")} {
		_, err := c.Decode(bad)
		require.ErrorIs(t, err, mapreduce.ErrCodec)
	}
}

// TestReduceUsesValuesInTheirIteration feeds Reduce values that are
// overwritten as soon as their loop iteration ends, which the Reduce
// contract allows: each output line must still be the value it was given.
func TestReduceUsesValuesInTheirIteration(t *testing.T) {
	values := apptest.ScribbledValues("first line", "second line")
	var got []string
	emit := func(k grep.Match, v []byte) { got = append(got, k.String()+"\t"+string(v)) }
	require.NoError(t, grep.Job.Reduce(nil, grep.Match{File: "f.txt", Offset: 42}, values, emit))
	require.Equal(t, []string{"f.txt:42\tfirst line", "f.txt:42\tsecond line"}, got)
}
