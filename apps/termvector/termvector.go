// Package termvector summarises each host's pages by their most frequent
// terms, the term vector of Dean and Ghemawat's MapReduce paper.
//
// Input: crawled pages, one JSON object per line (as `quern gen html`
// writes them): {"url": "https://host/path", "html": "<!DOCTYPE html>..."}.
// A page's host is its url's host, lower-cased, without port or user info.
// Its terms are the maximal runs of Unicode letters in its text,
// lower-cased; tags, comments, <script> and <style> content and character
// references (&amp;) are not text. A line that is not such an object, or
// whose url is not an absolute http(s) URL, is counted in the user counter
// malformed_pages and skipped.
//
// Parameter --top N (default 10) is the number of terms kept per host.
//
// Output: "HOST<TAB>TERMS" lines, sorted by host (bytewise) within each part
// file, where TERMS is "term:count" pairs separated by commas, most
// frequent first, equal counts in ascending (bytewise) term order:
// "example.org	the:120,of:80,and:80". A host whose pages hold no term is
// not listed.
//
// The job is the paper's own design: Map emits one (host, term vector)
// pair per page, the combiner merges the vectors of a host within a map
// task, and Reduce merges what is left of a host's vectors and writes its
// top N. Each Reduce call sees one host whole, so the job assumes nothing
// of the order in which keys reach it and keeps no state between calls:
// it runs as well on an engine that groups by key without sorting (the
// Apache Beam runner). A reducer holds one host's vocabulary at a time.
package termvector

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/quern-dev/quern/apps/internal/page"
	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for termvector and runs it.
const Example = "quern gen html --size 16MiB -o pages.jsonl\n" +
	"quern run termvector --top 20 --input pages.jsonl --output out"

// MalformedPages is the user counter of input lines that are not pages.
const MalformedPages = "malformed_pages"

// DefaultTop is the number of terms kept per host when --top is not given.
const DefaultTop = 10

// A TermVector counts the occurrences of each term in a page or a host.
type TermVector map[string]int64

// Size estimates a vector's memory for map-side combining's budget
// (mapreduce.Sizer): per term a map slot, a string header and its count,
// and the term's bytes, taken as 8 on average.
func (v TermVector) Size() int { return len(v) * 56 }

// Merge adds the counts of b to a and returns a; it does not keep or change
// b. A nil a is allocated. Merge is associative and commutative, as a
// combiner must be.
func Merge(a, b TermVector) TermVector {
	if a == nil {
		a = make(TermVector, len(b))
	}
	for term, n := range b {
		a[term] += n
	}
	return a
}

// Job is the registered termvector job.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, TermVector, []byte, Terms]{
	Name:             "termvector",
	MalformedCounter: MalformedPages,
	KeyColumn:        "host",
	ValueColumn:      "terms",
	TextBytes:        true,
	Description:      "each host's most frequent terms (--top N) over its JSON-lines crawled pages",
	Params: []mapreduce.Param{{
		Name:    "top",
		Default: strconv.Itoa(DefaultTop),
		Usage:   "number of terms kept per host",
	}},
	CheckParams: func(param func(string) string) error {
		_, err := parseTop(param("top"))
		return err
	},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, TermVector)) error {
		st := states.Get().(*mapState)
		defer states.Put(st)
		u, html, err := st.p.Parse(rec.Value)
		if err != nil {
			tc.Count(MalformedPages, 1)
			return nil
		}
		host, ok := page.Host(st.host[:0], u)
		if !ok {
			tc.Count(MalformedPages, 1)
			return nil
		}
		st.host = host
		clear(st.vec)
		st.p.Terms(html, st.add)
		if len(st.vec) > 0 {
			// emit copies the vector or merges it into one it owns, so
			// st.vec is reused by the next page.
			emit(host, st.vec)
		}
		return nil
	},
	// The framework's combining table owns a and copies a vector through
	// the codec before keeping it, so merging into a is safe; b is the
	// caller's and is only read.
	Combine:    Merge,
	ValueCodec: vectorCodec{},
	Reduce:     reduce,
})

// mapState is one Map call's reusable memory.
type mapState struct {
	p    page.Parser
	host []byte
	vec  TermVector
	// terms interns the terms seen, so that counting a term already met
	// costs two lookups and no allocation (m[string(b)]++ allocates the
	// key). It is dropped when it holds maxInterned terms, so that a
	// vocabulary without end does not grow it without end.
	terms map[string]string
	add   func(term []byte)
}

const maxInterned = 1 << 16

// states recycles map buffers between records, so that a page costs no
// allocation once they have grown. It is scratch memory, not state: Map
// resets the vector and host for every page, and the interned terms only
// spare allocations, so which task or record used a mapState last never
// changes a result.
var states = sync.Pool{New: func() any {
	st := &mapState{vec: TermVector{}, terms: map[string]string{}}
	st.add = func(term []byte) {
		s, ok := st.terms[string(term)]
		if !ok {
			if len(st.terms) >= maxInterned {
				clear(st.terms)
			}
			s = string(term)
			st.terms[s] = s
		}
		st.vec[s]++
	}
	return st
}}

// reduce merges a host's vectors into the largest and writes its top terms.
// The vectors are decoded afresh for this call, so any may absorb the rest.
func reduce(tc *mapreduce.TaskContext, host []byte, vecs iter.Seq[TermVector], emit func([]byte, Terms)) error {
	top, err := param(tc)
	if err != nil {
		return err
	}
	var all TermVector
	for v := range vecs {
		if len(v) > len(all) {
			all, v = v, all
		}
		all = Merge(all, v)
	}
	if len(all) == 0 {
		return nil
	}
	emit(host, topTerms(all, top))
	return nil
}

// Terms is a host's top terms, most frequent first: the terms column of
// JSONL, Parquet and Arrow output, a list of (term, count) structs.
type Terms []TermCount

// TermCount is one term and its count.
type TermCount struct {
	Term  string `json:"term"`
	Count int64  `json:"count"`
}

// String returns the text output's value: "term:count,term:count".
func (ts Terms) String() string {
	var dst []byte
	for i, e := range ts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.Term...)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, e.Count, 10)
	}
	return string(dst)
}

// UnmarshalText parses what String writes (terms are letters, so hold no
// ',' or ':'), so that text output can be read back (--merge).
func (ts *Terms) UnmarshalText(b []byte) error {
	*ts = (*ts)[:0]
	for pair := range strings.SplitSeq(string(b), ",") {
		term, n, ok := strings.Cut(pair, ":")
		c, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("termvector: term count %q: want term:count", pair)
		}
		*ts = append(*ts, TermCount{Term: term, Count: c})
	}
	return nil
}

// topTerms returns the n most frequent terms of v, most frequent first,
// equal counts in ascending (bytewise) term order.
func topTerms(v TermVector, n int) Terms {
	// Keep the best n sorted as they come: with terms in map order a term
	// rarely beats the n-th, so this costs one comparison per term where
	// sorting the whole vocabulary cost most of the reduce.
	best := make([]termCount, 0, min(n, len(v)))
	for term, c := range v {
		e := termCount{term, c}
		if len(best) == n && compareCounts(e, best[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, e, compareCounts)
		if len(best) < n {
			best = append(best, termCount{})
		}
		copy(best[i+1:], best[i:])
		best[i] = e
	}
	out := make(Terms, len(best))
	for i, e := range best {
		out[i] = TermCount{Term: e.term, Count: e.count}
	}
	return out
}

type termCount struct {
	term  string
	count int64
}

// compareCounts orders terms best first: larger count, then smaller term.
func compareCounts(a, b termCount) int {
	if c := cmp.Compare(b.count, a.count); c != 0 {
		return c
	}
	return cmp.Compare(a.term, b.term)
}

func param(tc *mapreduce.TaskContext) (int, error) { return parseTop(tc.Param("top")) }

// parseTop reads --top.
func parseTop(s string) (int, error) {
	if s == "" {
		return DefaultTop, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("termvector: --top %q: want a positive integer", s)
	}
	return n, nil
}

// vectorCodec encodes a TermVector as uvarint(number of terms) followed by
// each term as uvarint(length), its bytes, uvarint(count), in map order:
//
//	02 03 't' 'h' 'e' 05 02 'o' 'f' 01   = {the: 5, of: 1}
//
// It replaces the JSON codec that a map type gets by default. Decode copies the encoding
// into one string that every term of the result shares, so a vector costs
// two allocations however many terms it holds.
type vectorCodec struct{}

func (vectorCodec) Append(dst []byte, v TermVector) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	for term, n := range v {
		dst = binary.AppendUvarint(dst, uint64(len(term)))
		dst = append(dst, term...)
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	return dst
}

func (vectorCodec) Decode(b []byte) (TermVector, error) {
	n, i := binary.Uvarint(b)
	// Every term takes at least two bytes, which bounds n before it sizes
	// the map.
	if i <= 0 || n > uint64(len(b)-i)/2 {
		return nil, fmt.Errorf("termvector: term vector of %d bytes: bad term count: %w", len(b), mapreduce.ErrCodec)
	}
	s := string(b)
	v := make(TermVector, n)
	for range n {
		l, k := binary.Uvarint(b[i:])
		if k <= 0 || l > uint64(len(b)-i-k) {
			return nil, fmt.Errorf("termvector: term vector of %d bytes: bad term length at offset %d: %w", len(b), i, mapreduce.ErrCodec)
		}
		term := s[i+k : i+k+int(l)]
		i += k + int(l)
		c, k := binary.Uvarint(b[i:])
		if k <= 0 || c > 1<<63-1 {
			return nil, fmt.Errorf("termvector: term vector of %d bytes: bad count at offset %d: %w", len(b), i, mapreduce.ErrCodec)
		}
		i += k
		v[term] += int64(c)
	}
	if i != len(b) {
		return nil, fmt.Errorf("termvector: term vector of %d bytes: %d trailing bytes: %w", len(b), len(b)-i, mapreduce.ErrCodec)
	}
	return v, nil
}
