package textbytes

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOf(rapid.Byte()).Draw(t, "b")
		if rapid.Bool().Draw(t, "escape range") {
			b = utf8.AppendRune(b, rune(escapeMin+rapid.IntRange(0, 0x7f).Draw(t, "r")))
		}
		enc := Append(nil, b)
		if !utf8.Valid(enc) {
			t.Fatalf("Append(%q) = %q, not valid UTF-8", b, enc)
		}
		if got := Unescape(nil, enc); !bytes.Equal(got, b) {
			t.Fatalf("Unescape(Append(%q)) = %q", b, got)
		}
		if Valid(b) != bytes.Equal(enc, b) {
			t.Fatalf("Valid(%q) = %v but Append gives %q", b, Valid(b), enc)
		}
		if Unescaped(enc) && !bytes.Equal(enc, b) {
			t.Fatalf("Unescaped(%q) but the bytes were %q", enc, b)
		}
	})
}

func TestLatin1(t *testing.T) {
	// "café" in Latin-1: the é byte (0xE9) becomes U+10FFE9.
	got := Append(nil, []byte("caf\xe9"))
	want := "caf" + string(rune(0x10FFE9))
	if string(got) != want {
		t.Fatalf("Append(caf\\xe9) = %q, want %q", got, want)
	}
	if s := Append(nil, "plain ünïcode"); string(s) != "plain ünïcode" {
		t.Fatalf("valid UTF-8 changed: %q", s)
	}
}
