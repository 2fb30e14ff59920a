package wordcount

import (
	"bytes"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func words(s string) []string {
	var out []string
	for w := range Words([]byte(s)) {
		out = append(out, string(w))
	}
	return out
}

func TestWords(t *testing.T) {
	for in, want := range map[string][]string{
		"":                             nil,
		"Hello, world!":                {"Hello", "world"},
		"don't stop":                   {"don", "t", "stop"},
		"naïve straße 日本語 Ωmega":       {"naïve", "straße", "日本語", "Ωmega"},
		"a\x00b\xffc\xfe\xfed":         {"a", "b", "c", "d"},
		"x1y2":                         {"x", "y"},
		"  trailing":                   {"trailing"},
		"\r\nCRLF\r\n":                 {"CRLF"},
		"\uFFFDreplacement\uFFFD char": {"replacement", "char"},
	} {
		require.Equal(t, want, words(in), "%q", in)
	}
}

// TestWordsMatchesFieldsFunc checks the ASCII fast path against the
// definition: maximal runs of unicode.IsLetter, invalid bytes separating,
// and WordsCounting's count of invalid bytes against utf8.DecodeRune.
func TestWordsMatchesFieldsFunc(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Letters in runs long enough for the 8-byte path, the bytes just
		// outside 'A'-'Z' and 'a'-'z' (which case folding must not let in),
		// and multi-byte and invalid UTF-8.
		alphabet := []byte("azAZazAZazAZ@[`{\x7f\x80 9.\n\x00\xff\xc3\xa9\xe6\x97\xa5")
		b := rapid.SliceOf(rapid.SampledFrom(alphabet)).Draw(t, "b")
		var want []string
		for _, w := range bytes.FieldsFunc(b, func(r rune) bool { return !unicode.IsLetter(r) }) {
			want = append(want, string(w))
		}
		if got := words(string(b)); !equal(got, want) {
			t.Fatalf("Words(%q) = %q, want %q", b, got, want)
		}
		var invalid, counted int64
		for i := 0; i < len(b); {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				invalid++
			}
			i += size
		}
		for range WordsCounting(b, &counted) {
		}
		if counted != invalid {
			t.Fatalf("WordsCounting(%q) counted %d bytes that are not UTF-8, want %d", b, counted, invalid)
		}
	})
}

// TestNonLetters checks the 8-byte letter test against the table for every
// byte value in every position.
func TestNonLetters(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			w := uint64(0x6161616161616161) // "aaaaaaaa"
			w = w&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
			want := uint64(0)
			if !asciiLetter[c] {
				want = 0x80 << (8 * pos)
			}
			if got := nonLetters(w); got != want {
				t.Fatalf("byte %#02x at %d: nonLetters = %#016x, want %#016x", c, pos, got, want)
			}
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkText splits 16 MiB of bench/gen text, the benchmark workload's,
// and touches each word as the combiner would.
func BenchmarkText(b *testing.B) {
	var buf bytes.Buffer
	if _, err := gen.Text(&buf, 16<<20, 1); err != nil {
		b.Fatal(err)
	}
	text := buf.Bytes()
	b.SetBytes(int64(len(text)))
	var n int
	for b.Loop() {
		for w := range Words(text) {
			n += int(w[0])
		}
	}
	if n == 0 {
		b.Fatal("no words")
	}
}

func BenchmarkWords(b *testing.B) {
	line := []byte("It was the best of times, it was the worst of times, it was the age of wisdom")
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		for range Words(line) {
		}
	}
}

// BenchmarkMapTask is a word count map task without its input reading: the
// lines of 16 MiB of bench/gen text handed to the job's mapper one by one,
// each word through the guarded emit into the combining table, which is
// flushed into a sort buffer and spilled as one run at the end. It measures
// the per-word path (Words, emit, combiner, table) as a worker runs it.
// MB/s counts input text; cpu-ns/word, the process's CPU time per word,
// is the figure to compare on a loaded machine.
func BenchmarkMapTask(b *testing.B) {
	var buf bytes.Buffer
	if _, err := gen.Text(&buf, 16<<20, 1); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(buf.Bytes(), []byte("\n"))
	var words int
	for _, line := range lines {
		for range Words(line) {
			words++
		}
	}
	records := func(yield func(mapreduce.Record) bool) {
		for _, line := range lines {
			if !yield(mapreduce.Record{Value: line}) {
				return
			}
		}
	}
	dir := b.TempDir()
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	cpu := testenv.CPUTime()
	for b.Loop() {
		if runs, counters := apptest.MapTask(b, dir, "wordcount", records); runs != 1 || counters[mapreduce.CombineOutputRecords] < 1000 {
			b.Fatalf("%d runs, %d keys", runs, counters[mapreduce.CombineOutputRecords])
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(b.N*words), "cpu-ns/word")
}
