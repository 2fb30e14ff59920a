package wordcount

import (
	"bytes"
	"testing"
	"unicode"

	"github.com/quern-dev/quern/bench/gen"
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
// definition: maximal runs of unicode.IsLetter, invalid bytes separating.
func TestWordsMatchesFieldsFunc(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOf(rapid.SampledFrom([]byte("aZ 9.\n\x00\xff\xc3\xa9\xe6\x97\xa5"))).Draw(t, "b")
		var want []string
		for _, w := range bytes.FieldsFunc(b, func(r rune) bool { return !unicode.IsLetter(r) }) {
			want = append(want, string(w))
		}
		if got := words(string(b)); !equal(got, want) {
			t.Fatalf("Words(%q) = %q, want %q", b, got, want)
		}
	})
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
