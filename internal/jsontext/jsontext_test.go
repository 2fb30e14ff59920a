package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// valid replaces each byte of invalid UTF-8 with U+FFFD, one per byte.
func valid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func TestAppendStringDecodesBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alphabet := []byte("ab\"\\\n\r\t\x00\x1f<>&\xff\xc3\xa9\xe2\x80\xa8\xe6\x97\xa5")
		s := string(rapid.SliceOf(rapid.SampledFrom(alphabet)).Draw(t, "s"))
		out := AppendString([]byte("x"), s)
		if out[0] != 'x' {
			t.Fatalf("dst prefix lost")
		}
		var got string
		if err := json.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("%q gave invalid JSON %s: %v", s, out[1:], err)
		}
		if want := valid(s); got != want {
			t.Fatalf("%q decoded to %q, want %q", s, got, want)
		}
		if byteOut := AppendString(nil, []byte(s)); string(byteOut) != string(out[1:]) {
			t.Fatalf("[]byte and string forms differ for %q", s)
		}
	})
}

func TestAppendStringExact(t *testing.T) {
	for in, want := range map[string]string{
		"":             `""`,
		"plain":        `"plain"`,
		"a\"b\\c":      `"a\"b\\c"`,
		"\n\r\t\x01":   `"\n\r\t\u0001"`,
		"<&>":          `"<&>"`,
		"\xff":         `"\ufffd"`,
		"\u2028\u2029": `"\u2028\u2029"`,
		"日本":           `"日本"`,
	} {
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("an ordinary line of text, with \"quotes\" and ünïcödé; ", 8)
	b.SetBytes(int64(len(s)))
	var dst []byte
	for b.Loop() {
		dst = AppendString(dst[:0], s)
	}
}
