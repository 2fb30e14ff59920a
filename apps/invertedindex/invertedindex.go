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
// Its value is a docList: a word's documents, sorted. Map emits a list of
// one document per line, and Combine merges lists: a map task reads many
// files (small ones are packed into one split), one after another, so the
// combiner mostly meets a word again in the document it last saw, or in
// the next one, and keeps or appends in place.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, docList, []byte, Postings]{
	Name:         "invertedindex",
	KeyColumn:    "term",
	TextBytes:    true,
	LineInput:    true,
	Description:  "for each word, the number and sorted list of the documents (files) containing it",
	WarnCounters: map[string]string{wordcount.NonUTF8Bytes: wordcount.NonUTF8Warning},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, docList)) error {
		doc := oneDoc(rec.File)
		var nonUTF8 int64
		for w := range wordcount.WordsCounting(rec.Value, &nonUTF8) {
			emit(w, doc)
		}
		if nonUTF8 > 0 {
			tc.Count(wordcount.NonUTF8Bytes, nonUTF8)
		}
		return nil
	},
	Combine:    union,
	ValueCodec: docListCodec{},
	Reduce:     reduce,
})

// docList is a word's documents: their paths, sorted bytewise and without
// duplicates, the greatest (last) held apart from the others (earlier).
// Map emits lists of one path, which then need no slice; and union's
// common case, a word met again in the document it was last met in, reads
// the list's own fields, not an array elsewhere in memory, for every word
// of the input. Size (mapreduce.Sizer) lets the map-side combiner count
// the lists' memory against its budget.
type docList struct {
	earlier []string // the paths before last, sorted
	last    string   // "" only in an empty list: no path is empty
	size    int      // the sum of pathSize over the paths
}

func (l docList) Size() int { return l.size }

// oneDoc is the list of the one document path.
func oneDoc(path string) docList { return docList{last: path, size: pathSize(path)} }

// listOf is the list of paths, which are sorted and free of duplicates;
// it keeps paths' array.
func listOf(paths []string) docList {
	var l docList
	for _, p := range paths {
		l.size += pathSize(p)
	}
	if n := len(paths); n > 0 {
		l.earlier, l.last = paths[:n-1], paths[n-1]
	}
	return l
}

// appendPaths appends l's paths to dst, in order.
func (l docList) appendPaths(dst []string) []string {
	if l.last == "" {
		return dst
	}
	return append(append(dst, l.earlier...), l.last)
}

// pathSize is what one path costs a docList: its bytes and a string header.
func pathSize(p string) int { return len(p) + 16 }

// union merges two document lists. Each list is sorted and free of
// duplicates, so the result is too.
//
// It appends to a's paths in place when b is one document at or after
// a's last: the framework hands Combine a first value of its own (the
// combiner's, or one just decoded), never one that Map emitted, so a's
// array is union's to grow; b's array is never kept. That makes a word's
// list grow in amortised constant time per document, where copying the
// list for every new document was quadratic in the documents of a task: a
// folder of 655 files of 400 KB ran over ten minutes.
func union(a, b docList) docList {
	if len(b.earlier) == 0 && b.last != "" && a.last != "" {
		switch p := b.last; {
		case p == a.last:
			// Keep b's string, the file name of the records Map reads
			// (Record.File): the next words of this document then
			// compare equal by pointer, where a's, a copy the combiner
			// made, compared the path byte by byte (a third of the map
			// side's time over paths of 70 bytes).
			a.last = p
			return a
		case p > a.last:
			a.earlier = append(a.earlier, a.last)
			a.last = p
			a.size += pathSize(p)
			return a
		}
	}
	as, bs := a.appendPaths(nil), b.appendPaths(nil)
	merged := make([]string, 0, len(as)+len(bs))
	i, j := 0, 0
	for i < len(as) || j < len(bs) {
		var p string
		switch {
		case j == len(bs) || i < len(as) && as[i] < bs[j]:
			p, i = as[i], i+1
		case i == len(as) || bs[j] < as[i]:
			p, j = bs[j], j+1
		default: // equal
			p, i, j = as[i], i+1, j+1
		}
		merged = append(merged, p)
	}
	return listOf(merged)
}

// docListCodec encodes a docList as its paths joined by NUL bytes, which
// no path holds; the empty list as no bytes.
type docListCodec struct{}

const sep = "\x00"

func (docListCodec) Append(dst []byte, l docList) []byte {
	for _, p := range l.earlier {
		dst = append(dst, p...)
		dst = append(dst, sep...)
	}
	return append(dst, l.last...)
}

func (docListCodec) Decode(b []byte) (docList, error) {
	if len(b) == 0 {
		return docList{}, nil
	}
	return listOf(strings.Split(string(b), sep)), nil
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

func reduce(_ *mapreduce.TaskContext, word []byte, lists iter.Seq[docList], emit func([]byte, Postings)) error {
	var docs []string
	for l := range lists {
		docs = l.appendPaths(docs)
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
