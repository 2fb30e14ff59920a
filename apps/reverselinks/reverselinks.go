// Package reverselinks inverts the link graph of crawled pages: for each
// link target, the pages that link to it.
//
// Input: crawled pages, one JSON object per line (as `quern gen html`
// writes them): {"url": "https://host/path", "html": "<!DOCTYPE html>..."}.
// Other members are ignored. The links of a page are the href attributes of
// its <a> tags: absolute http(s) URLs as written, relative ones resolved
// against the page's url, both without their #fragment; other schemes
// (mailto:, javascript:) are skipped. A line that is not such an object is
// counted in the user counter malformed_pages and skipped.
//
// Output: "TARGET<TAB>SOURCES" lines, sorted by target (bytewise) within
// each part file, where SOURCES is a JSON array of the URLs of the pages
// linking to TARGET, sorted bytewise and without duplicates (a page that
// links to a target twice is listed once): ["https://a.example/x.html",
// "https://b.example/y.html"]. JSON, because URLs may hold commas.
package reverselinks

import (
	"bytes"
	"encoding/json"
	"iter"
	"slices"
	"sync"

	"github.com/quern-dev/quern/apps/internal/page"
	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for reverselinks and runs it.
const Example = "quern gen html --size 16MiB -o pages.jsonl\n" +
	"quern run reverselinks --input pages.jsonl --output out"

// MalformedPages is the user counter of input lines that are not pages.
const MalformedPages = "malformed_pages"

// Job is the registered reverselinks job. Values (source URLs) reach the
// reducer sorted by a secondary sort, so it drops duplicates as they stream
// past and holds only the output line.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, []byte, []byte, Sources]{
	Name:             "reverselinks",
	MalformedCounter: MalformedPages,
	KeyColumn:        "target",
	ValueColumn:      "sources",
	TextBytes:        true,
	Description:      "for each link target in JSON-lines crawled pages, the sorted list of pages linking to it",
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, []byte)) error {
		st := states.Get().(*mapState)
		defer states.Put(st)
		src, html, err := st.p.Parse(rec.Value)
		if err != nil {
			tc.Count(MalformedPages, 1)
			return nil
		}
		// Emit each target once per page: sort the page's targets, which
		// live in one arena, and skip repeats.
		st.arena, st.spans = st.arena[:0], st.spans[:0]
		page.Links(src, html, func(t []byte) {
			st.spans = append(st.spans, [2]int{len(st.arena), len(st.arena) + len(t)})
			st.arena = append(st.arena, t...)
		})
		at := func(s [2]int) []byte { return st.arena[s[0]:s[1]] }
		slices.SortFunc(st.spans, func(a, b [2]int) int { return bytes.Compare(at(a), at(b)) })
		for i, s := range st.spans {
			if i > 0 && bytes.Equal(at(st.spans[i-1]), at(s)) {
				continue
			}
			emit(at(s), src)
		}
		return nil
	},
	SortValues: func(dst []byte, v []byte) []byte { return append(dst, v...) },
	Reduce: func(_ *mapreduce.TaskContext, target []byte, sources iter.Seq[[]byte], emit func([]byte, Sources)) error {
		var out Sources
		for s := range sources {
			if len(out) > 0 && out[len(out)-1] == string(s) {
				continue
			}
			out = append(out, string(s))
		}
		emit(target, out)
		return nil
	},
})

// Sources are the pages linking to a target, sorted: the sources column
// (a list of strings) of JSONL, Parquet and Arrow output.
type Sources []string

// String returns the text output's value, a JSON array of the URLs.
func (s Sources) String() string {
	out := []byte{'['}
	for i, u := range s {
		if i > 0 {
			out = append(out, ',')
		}
		out = page.AppendJSONString(out, []byte(u))
	}
	return string(append(out, ']'))
}

// UnmarshalText parses what String writes, so that text output can be
// read back (--merge).
func (s *Sources) UnmarshalText(b []byte) error { return json.Unmarshal(b, (*[]string)(s)) }

// mapState is a map task's reusable buffers.
type mapState struct {
	p     page.Parser
	arena []byte
	spans [][2]int
}

// states recycles mapStates between records (and tasks), so that parsing
// a page allocates nothing once the buffers have grown.
var states = sync.Pool{New: func() any { return new(mapState) }}
