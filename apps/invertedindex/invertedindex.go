// Package invertedindex builds an inverted index: for each word, the
// documents that contain it.
//
// Input: text files (plain, gzip or zstd); each file is one document, named
// by its path as the driver lists it (the input path as given, or DIR/NAME
// for a file found in a directory). Words are those of the wordcount app: maximal runs of
// Unicode letters, case kept; everything else separates words.
//
// Output: "WORD<TAB>N<TAB>DOCS" lines, sorted by word (bytewise) within each
// part file, where N is the number of documents containing WORD and DOCS
// their paths as a JSON array of strings, sorted bytewise and without
// duplicates: ["a.txt","dir/b.txt"]. JSON keeps paths with commas or tabs
// unambiguous.
package invertedindex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for invertedindex and runs it.
const Example = "mkdir docs && for i in 1 2 3 4; do quern gen text --size 4MiB --seed $i -o docs/$i.txt; done\n" +
	"quern run invertedindex --input docs --output out"

// Job is the registered invertedindex job.
//
// Its value is a document list: paths joined by NUL bytes, which no path
// holds. A map task reads one file, so its combiner almost always meets two
// equal lists and keeps one without allocating.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, string, []byte, Postings]{
	Name:        "invertedindex",
	KeyColumn:   "term",
	TextBytes:   true,
	Description: "for each word, the number and sorted list of the documents (files) containing it",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, string)) error {
		for w := range wordcount.Words(rec.Value) {
			emit(w, rec.File)
		}
		return nil
	},
	Combine: union,
	Reduce:  reduce,
})

const sep = "\x00"

// union merges two document lists. Each list is sorted and free of
// duplicates, so the result is too.
func union(a, b string) string {
	if a == b {
		return a
	}
	docs := append(strings.Split(a, sep), strings.Split(b, sep)...)
	slices.Sort(docs)
	return strings.Join(slices.Compact(docs), sep)
}

// Postings is a word's entry in the index: the columns documents (how
// many) and postings (their paths, sorted) of JSONL, Parquet and Arrow
// output.
type Postings struct {
	Documents int64    `json:"documents"`
	Postings  []string `json:"postings"`
}

// String returns the text output's value: N<TAB>["doc",...].
func (p Postings) String() string {
	out := strconv.AppendInt(nil, p.Documents, 10)
	out = append(out, "\t["...)
	for i, d := range p.Postings {
		if i > 0 {
			out = append(out, ',')
		}
		out = AppendJSONString(out, d)
	}
	return string(append(out, ']'))
}

// UnmarshalText parses what String writes, so that text output can be
// read back (--merge).
func (p *Postings) UnmarshalText(b []byte) error {
	n, list, ok := bytes.Cut(b, []byte{'\t'})
	if !ok {
		return fmt.Errorf("invertedindex: postings %q: no tab after the count", b)
	}
	var err error
	if p.Documents, err = strconv.ParseInt(string(n), 10, 64); err != nil {
		return fmt.Errorf("invertedindex: postings count: %w", err)
	}
	return json.Unmarshal(list, &p.Postings)
}

func reduce(_ *mapreduce.TaskContext, word []byte, lists iter.Seq[string], emit func([]byte, Postings)) error {
	var docs []string
	for l := range lists {
		for d := range strings.SplitSeq(l, sep) {
			docs = append(docs, d)
		}
	}
	slices.Sort(docs)
	docs = slices.Compact(docs)
	emit(word, Postings{Documents: int64(len(docs)), Postings: docs})
	return nil
}

// AppendJSONString appends s as a JSON string: quoted, with '"', '\\' and
// control characters escaped. Other bytes, including invalid UTF-8, are
// copied as they are.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
