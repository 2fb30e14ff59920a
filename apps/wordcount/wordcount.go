// Package wordcount is the classic MapReduce word count: how often each word
// occurs in text.
//
// A word is a maximal run of Unicode letters (unicode.IsLetter), case kept.
// Text is read as bytes: invalid UTF-8, NUL bytes and every other non-letter
// separate words and never fail the job. Output lines are "word<TAB>count",
// sorted by word (bytewise) within each part file.
package wordcount

import (
	"iter"
	"unicode"
	"unicode/utf8"

	"github.com/quern-dev/quern/mapreduce"
)

// Job is the registered word count job.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, int64, []byte, int64]{
	Name:        "wordcount",
	Description: "count the occurrences of each word (maximal run of Unicode letters) in text",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, int64)) error {
		for w := range Words(rec.Value) {
			emit(w, 1)
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

// Words yields the words of b as subslices of b, without copying.
func Words(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		start := -1
		for i := 0; i < len(b); {
			c := b[i]
			var letter bool
			size := 1
			if c < utf8.RuneSelf {
				// ASCII fast path: most text is ASCII, and a table lookup
				// beats decoding a rune.
				letter = asciiLetter[c]
			} else {
				var r rune
				r, size = utf8.DecodeRune(b[i:])
				letter = r != utf8.RuneError && unicode.IsLetter(r)
			}
			if letter {
				if start < 0 {
					start = i
				}
			} else if start >= 0 {
				if !yield(b[start:i]) {
					return
				}
				start = -1
			}
			i += size
		}
		if start >= 0 {
			yield(b[start:])
		}
	}
}

var asciiLetter = func() (t [utf8.RuneSelf]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()
