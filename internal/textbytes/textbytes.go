// Package textbytes writes byte strings that a job declares to be text as
// valid UTF-8, reversibly, so that a text column (Parquet and Arrow utf8,
// a JSON string) can hold them and Quern can read the original bytes back.
//
// Valid UTF-8 is written as it is. Each byte that is not part of valid UTF-8
// is written as the code point U+10FF00 plus the byte's value, which lies in
// U+10FF80..U+10FFFF (invalid bytes are all 0x80 or more), in Unicode's
// private use plane 16. So that this stays reversible, a code point of that
// range found in the input is escaped too, byte by byte. Unescape turns every
// code point of the range back into its byte.
//
// Latin-1 text, the usual source of invalid UTF-8, thus keeps its ASCII
// letters readable and its other bytes distinct, and a DuckDB or pandas user
// sees a valid string.
package textbytes

import (
	"unicode/utf8"
)

// base + b is the escape of byte b (b >= 0x80).
const base = 0x10FF00

// escapeMin is the first code point in the escape range.
const escapeMin = base + 0x80

// Valid reports whether b needs no escaping: valid UTF-8 without a code
// point of the escape range. It is the fast path of the writers.
func Valid[S ~string | ~[]byte](b S) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(b[i:min(i+utf8.UTFMax, len(b))]))
		if r == utf8.RuneError && size == 1 || r >= escapeMin {
			return false
		}
		i += size
	}
	return true
}

// Append appends b to dst as valid UTF-8, escaping as the package
// describes.
func Append[S ~string | ~[]byte](dst []byte, b S) []byte {
	start := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(b[i:min(i+utf8.UTFMax, len(b))]))
		if r == utf8.RuneError && size == 1 || r >= escapeMin {
			dst = append(dst, b[start:i]...)
			for _, c := range []byte(string(b[i : i+size])) {
				dst = utf8.AppendRune(dst, base+rune(c))
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, b[start:]...)
}

// Unescaped reports whether s holds no escape, so that Unescape would
// return it unchanged.
func Unescaped[S ~string | ~[]byte](s S) bool {
	// Every escape is encoded as F4 8F BE xx or F4 8F BF xx.
	for i := 0; i+1 < len(s); i++ {
		if s[i] == 0xF4 && s[i+1] == 0x8F {
			return false
		}
	}
	return true
}

// Unescape appends s to dst with each code point of the escape range
// turned back into its byte: the inverse of Append.
func Unescape[S ~string | ~[]byte](dst []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r >= escapeMin && r <= utf8.MaxRune {
			dst = append(dst, s[start:i]...)
			dst = append(dst, byte(r-base))
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
