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
// The job shuffles (host, term) pairs, summed by a combiner, partitioned by
// host alone so that one reducer sees all of a host's terms in term order.
// Each page also emits an end-of-host marker that sorts after every term of
// its host; on it the reducer writes the host's top N, so it holds only N
// terms at a time whatever the vocabulary.
package termvector

import (
	"bytes"
	"fmt"
	"iter"
	"strconv"
	"sync"

	"github.com/quern-dev/quern/apps/internal/page"
	"github.com/quern-dev/quern/apps/topk"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
)

// Example generates input for termvector and runs it.
const Example = "quern gen html --size 64MiB -o pages.jsonl\n" +
	"quern run termvector --top 20 --input pages.jsonl --output out"

// MalformedPages is the user counter of input lines that are not pages.
const MalformedPages = "malformed_pages"

// DefaultTop is the number of terms kept per host when --top is not given.
const DefaultTop = 10

// A key is HOST 0x00 TERM; the end-of-host marker is HOST 0x00 0xFF. A host
// holds no byte below '!' and a term is UTF-8, which never holds 0xFF, so
// the marker sorts after every term of its host and before the next host.
const (
	hostEnd = 0x00
	endMark = 0xFF
)

// Job is the registered termvector job.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, int64, []byte, []byte]{
	Name:        "termvector",
	Description: "each host's most frequent terms (--top N) over its JSON-lines crawled pages",
	Params: []mapreduce.Param{{
		Name:    "top",
		Default: strconv.Itoa(DefaultTop),
		Usage:   "number of terms kept per host",
	}},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, int64)) error {
		st := states.Get().(*mapState)
		defer states.Put(st)
		u, html, err := st.p.Parse(rec.Value)
		if err != nil {
			tc.Count(MalformedPages, 1)
			return nil
		}
		host, ok := page.Host(st.key, u)
		if !ok {
			tc.Count(MalformedPages, 1)
			return nil
		}
		st.key = append(host, hostEnd)
		n := len(st.key)
		st.p.Terms(html, func(term []byte) {
			st.key = append(st.key[:n], term...)
			emit(st.key, 1)
		})
		st.key = append(st.key[:n], endMark)
		emit(st.key, 0)
		return nil
	},
	Combine:     func(a, b int64) int64 { return a + b },
	Partitioner: hostPartitioner{},
	Reduce:      reduce,
})

type mapState struct {
	p   page.Parser
	key []byte
}

// states recycles map buffers between records, so that a page costs no
// allocation once they have grown.
var states = sync.Pool{New: func() any { return new(mapState) }}

// hostPartitioner hashes the host part of a key, so that all of a host's
// terms and its end marker meet in one reducer.
type hostPartitioner struct{}

func (hostPartitioner) Partition(key []byte, n int) int {
	if i := bytes.IndexByte(key, hostEnd); i >= 0 {
		key = key[:i]
	}
	return shuffle.HashPartitioner{}.Partition(key, n)
}

// hosts holds each running reduce task's current host: Reduce is called
// once per (host, term) key in key order, and the host's end marker, its
// last key, flushes and removes the entry.
var hosts sync.Map // *mapreduce.TaskContext -> *topk.Top

func reduce(tc *mapreduce.TaskContext, key []byte, counts iter.Seq[int64], emit func([]byte, []byte)) error {
	i := bytes.IndexByte(key, hostEnd)
	if i < 0 {
		return fmt.Errorf("termvector: key %q has no host terminator", key)
	}
	host, term := key[:i], key[i+1:]
	if len(term) == 1 && term[0] == endMark {
		v, ok := hosts.LoadAndDelete(tc)
		if !ok {
			return nil
		}
		var out []byte
		for j, e := range v.(*topk.Top).Sorted() {
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, e.Key...)
			out = append(out, ':')
			out = strconv.AppendInt(out, e.Count, 10)
		}
		emit(host, out)
		return nil
	}
	var n int64
	for c := range counts {
		n += c
	}
	v, ok := hosts.Load(tc)
	if !ok {
		top, err := param(tc)
		if err != nil {
			return err
		}
		v, _ = hosts.LoadOrStore(tc, topk.NewTop(top))
	}
	v.(*topk.Top).Add(term, n)
	return nil
}

func param(tc *mapreduce.TaskContext) (int, error) {
	s := tc.Param("top")
	if s == "" {
		return DefaultTop, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("termvector: --top %q: want a positive integer", s)
	}
	return n, nil
}
