// Package urlcount counts the hits of each URL path in web server access
// logs.
//
// Input: access logs in the Common Log Format or the Combined Log Format
// (plain, gzip or zstd), one request per line, as Apache, NGINX and
// `quern gen logs` write them:
//
//	HOST IDENT USER [TIME] "METHOD PATH PROTOCOL" STATUS BYTES
//	HOST IDENT USER [TIME] "METHOD PATH PROTOCOL" STATUS BYTES "REFERER" "USER-AGENT"
//
// HOST, IDENT and USER are runs of non-space bytes, TIME anything but ']',
// METHOD upper-case letters, PATH and PROTOCOL runs of non-space bytes
// (PROTOCOL "HTTP/" and digits and dots), STATUS three digits, BYTES digits or "-",
// REFERER and USER-AGENT anything but '"'. Fields are separated by one
// space. A line that does not have exactly this shape (a torn write, a
// binary request logged escaped, a stray message) is malformed: it adds 1
// to the user counter malformed_lines and is otherwise skipped, so a few bad
// lines never fail the job.
//
// The URL counted is PATH without its query string and fragment (from the
// first '?' or '#'): /search?q=a and /search?q=b are hits of /search. Every
// request counts, whatever its method and status.
//
// Output: "PATH<TAB>HITS" lines, sorted by path (bytewise) within each part
// file.
package urlcount

import (
	"bytes"
	"iter"

	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for urlcount and runs it.
const Example = "quern gen logs --size 16MiB -o logs.txt\n" +
	"quern run urlcount --input logs.txt --output out"

// MalformedLines is the user counter of input lines that are not log lines.
const MalformedLines = "malformed_lines"

// Job is the registered urlcount job.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, int64, []byte, int64]{
	Name:             "urlcount",
	MalformedCounter: MalformedLines,
	KeyColumn:        "url",
	ValueColumn:      "hits",
	TextBytes:        true,
	LineInput:        true,
	Description:      "count the hits of each URL path (query string dropped) in Common or Combined Log Format access logs",
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, int64)) error {
		path, ok := Path(rec.Value)
		if !ok {
			tc.Count(MalformedLines, 1)
			return nil
		}
		emit(path, 1)
		return nil
	},
	Combine: func(a, b int64) int64 { return a + b },
	Reduce: func(_ *mapreduce.TaskContext, path []byte, hits iter.Seq[int64], emit func([]byte, int64)) error {
		var n int64
		for h := range hits {
			n += h
		}
		emit(path, n)
		return nil
	},
})

// Path parses one access log line and returns the request's URL path
// without query string or fragment, as a subslice of line. ok is false when
// the line is malformed (see the package documentation).
func Path(line []byte) (path []byte, ok bool) {
	// HOST IDENT USER, each followed by one space.
	rest := line
	for range 3 {
		var field []byte
		if field, rest, ok = cutSpace(rest); !ok || len(field) == 0 {
			return nil, false
		}
	}
	// [TIME]
	if len(rest) < 2 || rest[0] != '[' {
		return nil, false
	}
	end := bytes.IndexByte(rest, ']')
	if end < 2 || len(rest) < end+3 || rest[end+1] != ' ' || rest[end+2] != '"' {
		return nil, false
	}
	rest = rest[end+3:]
	// "METHOD PATH PROTOCOL"
	end = bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, false
	}
	req := rest[:end]
	rest = rest[end+1:]
	method, req, ok := cutSpace(req)
	if !ok || len(method) == 0 || !upper(method) {
		return nil, false
	}
	path, proto, ok := cutSpace(req)
	if !ok || len(path) == 0 || !protocol(proto) {
		return nil, false
	}
	// STATUS BYTES
	if len(rest) < 5 || rest[0] != ' ' || !digit(rest[1]) || !digit(rest[2]) || !digit(rest[3]) || rest[4] != ' ' {
		return nil, false
	}
	rest = rest[5:]
	n := 0
	for n < len(rest) && digit(rest[n]) {
		n++
	}
	if n == 0 {
		if len(rest) == 0 || rest[0] != '-' {
			return nil, false
		}
		n = 1
	}
	rest = rest[n:]
	// Common Log Format ends here; Combined adds "REFERER" "USER-AGENT".
	if len(rest) > 0 && !combinedTail(rest) {
		return nil, false
	}
	if i := bytes.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return path, true
}

// combinedTail reports whether tail is ` "REFERER" "USER-AGENT"`.
func combinedTail(tail []byte) bool {
	for range 2 {
		if len(tail) < 3 || tail[0] != ' ' || tail[1] != '"' {
			return false
		}
		end := bytes.IndexByte(tail[2:], '"')
		if end < 0 {
			return false
		}
		tail = tail[2+end+1:]
	}
	return len(tail) == 0
}

// cutSpace splits b at its first space: a field of non-space bytes and the
// rest after the space. ok is false when there is no space or the field
// holds other white space.
func cutSpace(b []byte) (field, rest []byte, ok bool) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 || hasSpace(b[:i]) {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

// hasSpace reports whether b holds white space as regexp's \s means it:
// space, tab, newline, form feed or carriage return.
func hasSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' {
			return true
		}
	}
	return false
}

// protocol reports whether b is "HTTP/" and a version of digits and dots.
func protocol(b []byte) bool {
	v, ok := bytes.CutPrefix(b, []byte("HTTP/"))
	if !ok || len(v) == 0 {
		return false
	}
	for _, c := range v {
		if !digit(c) && c != '.' {
			return false
		}
	}
	return true
}

func upper(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func digit(c byte) bool { return c >= '0' && c <= '9' }
