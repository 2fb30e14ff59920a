// Package grep finds the lines of text files that match a regular
// expression, like grep -b, at any scale.
//
// Input: text files (plain, gzip or zstd), read line by line: a line is
// its bytes without the "\n" or "\r\n" that ends it. Parameter --pattern
// is a regular expression in Go's regexp (RE2) syntax, matched against the
// raw bytes of each line, so invalid UTF-8 never fails the job. A line matches when the pattern matches
// anywhere in it (anchor with ^ and $ to match whole lines).
//
// Output: one line per matching input line,
//
//	FILE:OFFSET<TAB>LINE
//
// where FILE is the input path as the driver names it, OFFSET the byte
// offset of the line's first byte in the (decompressed) file, and LINE the
// line as it was read. The job is total-order: part files hold disjoint,
// ascending ranges of (FILE, OFFSET), so the parts concatenated in order are
// sorted by file (bytewise), then offset (numerically), which is the order
// in which grep would print them.
package grep

import (
	"encoding/binary"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for grep and runs it.
const Example = "quern gen text --size 16MiB -o corpus.txt\n" +
	"quern run grep --pattern 'qu[ea]rn' --input corpus.txt --output out"

// Match locates one input line: the shuffle key of the grep job, and the
// output key, whose columns are file and offset (text output prints it as
// FILE:OFFSET).
type Match struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

// String returns "FILE:OFFSET", the key of a text output line.
func (m Match) String() string { return m.File + ":" + strconv.FormatInt(m.Offset, 10) }

// MatchCodec encodes a Match so that encodings sort by file, then offset:
// the file's bytes, a 0x00 terminator, then the offset as 8 big-endian
// bytes with the sign bit flipped. A path cannot hold a NUL byte, so the
// terminator sorts a file before every longer path it is a prefix of.
type MatchCodec struct{}

// Append implements mapreduce.Codec.
func (MatchCodec) Append(dst []byte, m Match) []byte {
	dst = append(dst, m.File...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, uint64(m.Offset)^(1<<63))
}

// Decode implements mapreduce.Codec.
func (MatchCodec) Decode(b []byte) (Match, error) {
	n := len(b) - 9
	if n < 0 || b[n] != 0 {
		return Match{}, fmt.Errorf("%w: grep match key of %d bytes", mapreduce.ErrCodec, len(b))
	}
	return Match{File: string(b[:n]), Offset: int64(binary.BigEndian.Uint64(b[n+1:]) ^ (1 << 63))}, nil
}

// Job is the registered grep job.
var Job = mapreduce.Register(&mapreduce.Job[Match, []byte, Match, []byte]{
	Name:        "grep",
	ValueColumn: "line",
	TextBytes:   true,
	LineInput:   true,
	Description: "print the lines that match a regular expression, as FILE:OFFSET<TAB>LINE, sorted by file and offset",
	Params: []mapreduce.Param{{
		Name:     "pattern",
		Required: true,
		Usage:    "regular expression (Go RE2 syntax) matched against each line's bytes",
	}},
	CheckParams: func(param func(string) string) error {
		_, err := compile(param("pattern"))
		return err
	},
	// A line without the pattern's literal prefix cannot match: the map
	// tasks search their input for it and hand Map only the lines that
	// hold it.
	LineFilter: func(param func(string) string) []byte {
		re, err := compile(param("pattern"))
		if err != nil {
			return nil
		}
		prefix, _ := re.LiteralPrefix()
		return []byte(prefix)
	},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(Match, []byte)) error {
		re, err := compile(tc.Param("pattern"))
		if err != nil {
			return err
		}
		if re.Match(rec.Value) {
			emit(Match{File: rec.File, Offset: rec.Offset}, rec.Value)
		}
		return nil
	},
	Reduce: reduce,
	// A key is one line of one file, so it has one value; a total order
	// makes the concatenated parts grep's own order.
	KeyCodec:   MatchCodec{},
	TotalOrder: true,
})

func reduce(_ *mapreduce.TaskContext, m Match, lines iter.Seq[[]byte], emit func(Match, []byte)) error {
	for line := range lines {
		emit(m, line)
	}
	return nil
}

// compiled caches regular expressions by pattern: a worker runs many map
// tasks of one job, and compiling per record would cost more than matching.
type compiled struct {
	pattern string
	re      *regexp.Regexp
	err     error
}

var (
	// last is the most recently used pattern: the cache hit of every record
	// after the first, without hashing the pattern.
	last     atomic.Pointer[compiled]
	patterns sync.Map // pattern string -> *compiled
)

func compile(pattern string) (*regexp.Regexp, error) {
	if c := last.Load(); c != nil && c.pattern == pattern {
		return c.re, c.err
	}
	v, ok := patterns.Load(pattern)
	if !ok {
		c := &compiled{pattern: pattern}
		if c.re, c.err = regexp.Compile(pattern); c.err != nil {
			c.err = fmt.Errorf("grep: --pattern %q: %w", pattern, c.err)
		}
		v, _ = patterns.LoadOrStore(pattern, c)
	}
	c := v.(*compiled)
	last.Store(c)
	return c.re, c.err
}
