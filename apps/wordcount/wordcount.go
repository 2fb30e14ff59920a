// Package wordcount is the classic MapReduce word count: how often each word
// occurs in text.
//
// A word is a maximal run of Unicode letters (unicode.IsLetter), case kept.
// Text is read as bytes: invalid UTF-8, NUL bytes and every other non-letter
// separate words and never fail the job. A byte that is not UTF-8 is
// counted (NonUTF8Bytes), and a job that met any ends with a warning: text
// in Latin-1 or Windows-1252 has its accented words cut there ("café" is
// counted as "caf"). Output lines are "word<TAB>count", sorted by word
// (bytewise) within each part file.
package wordcount

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"github.com/quern-dev/quern/mapreduce"
)

// Job is the registered word count job.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, int64, []byte, int64]{
	Name:        "wordcount",
	KeyColumn:   "word",
	ValueColumn: "count",
	TextBytes:   true,
	LineInput:   true,
	Description: "count the occurrences of each word (maximal run of Unicode letters) in text",
	// Each map task flushes its table of about 90,000 words of the
	// bench's text: on 256 MiB, 64 MiB splits instead of 32 took 5-12%
	// less CPU on every input shape (docs/benchmarks.md, session 15).
	MaxSplitSize: 64 << 20,
	WarnCounters: map[string]string{NonUTF8Bytes: NonUTF8Warning},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, int64)) error {
		var nonUTF8 int64
		for w := range WordsCounting(rec.Value, &nonUTF8) {
			emit(w, 1)
		}
		if nonUTF8 > 0 {
			tc.Count(NonUTF8Bytes, nonUTF8)
		}
		return nil
	},
	Combine: func(a, b int64) int64 { return a + b },
	Reduce: func(_ *mapreduce.TaskContext, word []byte, counts iter.Seq[int64], emit func([]byte, int64)) error {
		var n int64
		for c := range counts {
			n += c
		}
		emit(word, n)
		return nil
	},
})

// NonUTF8Bytes counts the input bytes that are not UTF-8 (each byte of an
// invalid sequence), which separate words.
const NonUTF8Bytes = "non_utf8_bytes"

// NonUTF8Warning is what a job that counts NonUTF8Bytes tells its user
// when it met any (mapreduce.Job.WarnCounters).
const NonUTF8Warning = "bytes that are not UTF-8 separated words: if the text is Latin-1 or Windows-1252, " +
	"its accented words were cut there (café counted as caf); convert it first: iconv -f WINDOWS-1252 -t UTF-8"

// Words yields the words of b as subslices of b, without copying.
func Words(b []byte) iter.Seq[[]byte] { return WordsCounting(b, nil) }

// WordsCounting is Words that also adds to *nonUTF8, if not nil, the
// number of bytes of b that are not UTF-8 (utf8.RuneError of size 1). They
// are met on the path that decodes non-ASCII bytes, so ASCII text pays
// nothing for the count.
func WordsCounting(b []byte, nonUTF8 *int64) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		// The word under way is b[start:i], empty between words: start
		// moves past each separator, so a word needs no state beyond it.
		// Each byte costs one lookup in a 256-entry table (no bounds check
		// on a byte index, and no separate test for ASCII) and, for ASCII
		// letters, one predictable branch.
		start, i := 0, 0
		for i < len(b) {
			// Eight bytes at a time: skip them whole when all are ASCII
			// letters, else jump to the first that is not. Most words end
			// within one load instead of a table lookup per letter.
			if i+8 <= len(b) {
				m := nonLetters(binary.LittleEndian.Uint64(b[i:]))
				if m == 0 {
					i += 8
					continue
				}
				i += bits.TrailingZeros64(m) >> 3
			}
			c := b[i]
			if asciiLetter[c] {
				i++
				continue
			}
			size := 1
			if c >= utf8.RuneSelf {
				var r rune
				r, size = utf8.DecodeRune(b[i:])
				if r != utf8.RuneError && unicode.IsLetter(r) {
					i += size
					continue
				}
				if size == 1 && nonUTF8 != nil {
					*nonUTF8++
				}
			}
			if start < i && !yield(b[start:i]) {
				return
			}
			i += size
			start = i
		}
		if start < len(b) {
			yield(b[start:])
		}
	}
}

// nonLetters returns the bytes of w (loaded little-endian) that are not
// ASCII letters, as a mask with bit 7 of each such byte set. It folds case
// with |0x20 and drops bit 7, so that adding 0x1f (0x05) to a byte sets its
// bit 7 exactly when it is at least 'a' (beyond 'z') without carrying into
// the next byte; bytes with bit 7 set in w are not ASCII at all.
func nonLetters(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	x := (w | 0x20*ones) &^ high
	letters := (x + 0x1f*ones) &^ (x + 0x05*ones) &^ w & high
	return letters ^ high
}

// asciiLetter says which bytes are ASCII letters; bytes from
// utf8.RuneSelf up start multi-byte runes, which Words decodes.
var asciiLetter = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()
