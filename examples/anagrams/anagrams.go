// Package anagrams is a complete user-defined Quern job, written the way a
// user of the framework would write one: it finds the sets of words in a
// text that are anagrams of each other ("listen", "silent", "enlist").
//
// The job lives in an importable package, registered at init, and the
// program in cmd/anagrams runs it. Keeping the job out of package main is
// what lets another engine's binary (quern-beam, for Apache Beam) link and
// run the very same job with no change to this code.
package anagrams

import (
	"bytes"
	"iter"
	"slices"
	"strings"
	"unicode"

	"github.com/quern-dev/quern/mapreduce"
)

// Job maps every word to its letters in sorted order, so that anagrams
// share a key, and reduces each key to the sorted list of distinct words
// when there are at least MinWords of them.
var Job = mapreduce.Register(&mapreduce.Job[string, string, string, string]{
	Name:        "anagrams",
	Description: "sets of words that are anagrams of each other",
	LineInput:   true,
	Params: []mapreduce.Param{
		{Name: "min-words", Default: "2", Usage: "smallest set of anagrams to print"},
	},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, string)) error {
		for _, w := range bytes.FieldsFunc(rec.Value, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len(w) < 3 {
				continue
			}
			word := strings.ToLower(string(w))
			letters := []rune(word)
			slices.Sort(letters)
			emit(string(letters), word)
		}
		tc.Count("lines", 1)
		return nil
	},
	Reduce: func(tc *mapreduce.TaskContext, letters string, words iter.Seq[string], emit func(string, string)) error {
		seen := map[string]bool{}
		for w := range words {
			seen[w] = true
		}
		if len(seen) < minWords(tc) {
			return nil
		}
		set := make([]string, 0, len(seen))
		for w := range seen {
			set = append(set, w)
		}
		slices.Sort(set)
		tc.Count("anagram_sets", 1)
		emit(letters, strings.Join(set, " "))
		return nil
	},
})

func minWords(tc *mapreduce.TaskContext) int {
	n := 0
	for _, c := range tc.Param("min-words") {
		if c < '0' || c > '9' {
			return 2
		}
		n = n*10 + int(c-'0')
	}
	return max(n, 1)
}
