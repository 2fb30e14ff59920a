// Package totalsort is the app `sort`: a total order over all part files,
// as TeraSort does it. The driver samples the map output's keys and gives
// each reducer a contiguous key range, so part-00000, part-00001, … read in
// order are globally sorted.
//
// Input is either gensort records (`gensort -a` format, 100 bytes: a 10-byte
// key, then 88 bytes, then CRLF; `quern gen gensort`) sorted by their key,
// or text lines sorted bytewise, chosen by --records. Output records are
// exactly the input records, gensort records keeping their CRLF (the line
// reader drops a line's CR; the reducer puts it back on gensort records,
// and on nothing else). Records with equal keys keep no particular order;
// `quern validate-sort` checks the result as valsort does.
//
// The default, --records auto, sorts every line bytewise, as lines does,
// and gives back its CR (carried as the value) to each line that has the
// whole gensort -a layout (IsGensort): a gensort file comes out as gensort sorts it (by key, ties
// by the record number that follows), and a text file stays text. Keying
// the lines that looked like records by their first 10 bytes alone, as it
// once did, put a 98-byte line "2024-01-01  b…" before "2024-01-01  a"
// and added a CR to it.
package totalsort

import (
	"fmt"
	"iter"
	"sync"

	"github.com/quern-dev/quern/mapreduce"
)

// Record layout of gensort -a.
const (
	KeySize    = 10
	RecordSize = 100
	lineSize   = RecordSize - 2 // without CRLF
)

// Example generates gensort records and sorts them.
const Example = "quern gen gensort --size 64MiB -o records.dat\nquern run sort --input records.dat --output sorted --sort-buffer 16MiB && quern validate-sort sorted"

// Job is the registered sort app.
var Job = mapreduce.Register(&mapreduce.Job[[]byte, []byte, []byte, mapreduce.None]{
	Name:        "sort",
	Description: "total order of gensort records or text lines across all part files (sampled range partitions)",
	Params: []mapreduce.Param{
		{Name: "records", Default: "auto", Usage: "gensort (100-byte records by 10-byte key), lines (whole lines), or auto"},
	},
	CheckParams: func(param func(string) string) error {
		switch mode := param("records"); mode {
		case "gensort", "lines", "auto", "":
			return nil
		default:
			return fmt.Errorf("--records %q: want gensort, lines or auto", mode)
		}
	},
	TotalOrder: true,
	KeyColumn:  "record",
	TextBytes:  true,
	LineInput:  true,
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, []byte)) error {
		line := rec.Value
		switch mode := tc.Param("records"); mode {
		case "gensort":
			if len(line) != lineSize {
				return fmt.Errorf("gensort record of %d bytes, want %d (without CRLF)", len(line), lineSize)
			}
			emit(line[:KeySize], line[KeySize:])
		case "auto", "":
			if IsGensort(line) {
				emit(line, cr) // the CR the line reader took
			} else {
				emit(line, nil)
			}
		case "lines":
			emit(line, nil)
		default:
			return fmt.Errorf("--records %q: want gensort, lines or auto", mode)
		}
		return nil
	},
	Reduce: func(_ *mapreduce.TaskContext, key []byte, rests iter.Seq[[]byte], emit func([]byte, mapreduce.None)) error {
		// Nearly every key of a sort has one value, so this runs once per
		// record and must not allocate. A range loop over rests would: its
		// body is a closure capturing key, emit and the buffer, which
		// escapes to the opaque iterator (2 allocations, 72 bytes per call).
		// A pooled reducer whose yield was bound once allocates nothing.
		r := reducers.Get().(*reducer)
		r.key, r.emit = key, emit
		rests(r.yield)
		// key is a view valid only during this call: do not pool it.
		r.key, r.emit = nil, nil
		reducers.Put(r)
		return nil
	},
})

// reducer is one Reduce call's state, recycled through reducers.
type reducer struct {
	key   []byte
	emit  func([]byte, mapreduce.None)
	buf   []byte                 // key+rest+CR; emit copies it
	yield func(rest []byte) bool // r.record, bound once
}

var reducers = sync.Pool{New: func() any {
	r := &reducer{buf: make([]byte, 0, RecordSize)}
	r.yield = r.record
	return r
}}

// cr is the value of a line read as a gensort record under --records auto,
// keyed by the whole line: the CR the line reader took from it.
var cr = []byte{'\r'}

// record emits one output record: the key, then the rest of the line. A
// rest of a gensort record's 88 bytes is --records gensort's, whose CR the
// reducer gives back (the text writer adds the LF); under auto the rest
// holds the CR, and under lines it is empty. The reducer needs no
// parameter, which would be a lookup per record.
func (r *reducer) record(rest []byte) bool {
	rec := append(append(r.buf[:0], r.key...), rest...)
	if len(rest) == lineSize-KeySize {
		rec = append(rec, '\r')
	}
	r.emit(rec, mapreduce.None{})
	r.buf = rec
	return true
}

// IsGensort reports whether a line (without its CRLF) has the layout of a
// gensort -a record: a 10-byte key, two spaces, the record number in 32
// hex digits, two spaces and 52 hex digits of filler. A line of text that
// merely has 98 bytes and two spaces after its tenth (a date, then a
// column) is not one.
func IsGensort(line []byte) bool {
	if len(line) != lineSize || string(line[KeySize:KeySize+2]) != "  " || string(line[44:46]) != "  " {
		return false
	}
	for _, c := range line[KeySize+2 : 44] {
		if !isHexDigit(c) {
			return false
		}
	}
	for _, c := range line[46:] {
		if !isHexDigit(c) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
