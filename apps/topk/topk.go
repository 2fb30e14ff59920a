// Package topk finds the K entries with the largest counts, exactly.
//
// Input: the output of a count job (wordcount, urlcount) in any output
// format. Input with named columns (JSON-lines objects, Parquet, Arrow, CSV,
// TSV) gives each row's key and count by column: --key-column and
// --count-column, by default the first and the last column; a missing
// column or a count that is not an integer fails the job with an error
// naming it. Text input is lines "KEY<TAB>COUNT", where COUNT is a decimal int64 after the
// line's last tab. A line whose text after its last tab is not an integer,
// or that has no tab, is plain text: the whole line is the key, with count
// 1. A "\r\n" line end is dropped with the "\n". Lines are not aggregated:
// a key on two lines is two entries (count them first with a count job).
//
// Lines reach the job as text: name inputs as a count job writes them
// (part-NNNNN) or *.txt, since a .tsv or .csv name selects the TSV or CSV
// input format, whose first line is a header. A .tsv or .csv file whose
// first line is a row of counts (its last field a number) has no header,
// and is refused with an error naming it rather than losing that line.
//
// Parameter --k (default 10) is the number of entries kept.
//
// Output: at most K lines "KEY<TAB>COUNT", largest count first; equal counts
// in ascending (bytewise) key order, so the output is deterministic. All of
// it is written by one reducer: the other part files are empty.
//
// Each map task keeps only its own top K (a combiner over a bounded list),
// so the shuffle carries K entries per map task whatever the input size.
package topk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
)

// Example generates input for topk and runs it after a word count.
const Example = "quern gen text --size 16MiB -o corpus.txt && quern run wordcount --input corpus.txt --output counts\n" +
	"quern run topk --k 20 --input counts --output out"

// DefaultK is the number of entries kept when --k is not given.
const DefaultK = 10

// Job is the registered topk job. Every map output has the same key (0), so
// one reducer sees every task's list.
var Job = mapreduce.Register(&mapreduce.Job[int8, Top, []byte, int64]{
	Name:        "topk",
	KeyColumn:   "key",
	ValueColumn: "count",
	TextBytes:   true,
	// Its one part is in count order, the order topk is for.
	OutOfKeyOrder: true,
	Description:   "the K lines with the largest counts (KEY<TAB>COUNT, or plain lines counting 1), largest first, ties by key",
	Params: []mapreduce.Param{{
		Name:    "k",
		Default: strconv.Itoa(DefaultK),
		Usage:   "number of entries to keep",
	}, {
		Name:  "key-column",
		Usage: "input with columns (Quern's JSON-lines, Parquet or Arrow output, CSV): the key column (default: the first)",
	}, {
		Name:  "count-column",
		Usage: "input with columns: the integer count column (default: the last)",
	}},
	CheckParams: func(param func(string) string) error {
		_, err := ParseK(param("k"))
		return err
	},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(int8, Top)) error {
		k, err := param(tc)
		if err != nil {
			return err
		}
		var key []byte
		var n int64
		if rec.HasColumns() {
			if key, n, err = fromColumns(tc, rec); err != nil {
				return err
			}
		} else {
			if c := columnParam(tc); c != "" {
				// Ignored, text would count whole lines: a wrong answer
				// for a user who named the columns of a three-column
				// text file (invertedindex's).
				return fmt.Errorf("topk: %s: --%s needs input with named columns (JSON lines, Parquet, Arrow, or CSV or TSV with --input-format); this input is text, read as KEY<TAB>COUNT lines", rec.File, c)
			}
			key, n = ParseLine(rec.Value)
		}
		emit(0, One(k, key, n))
		return nil
	},
	Combine: func(a, b Top) Top {
		a.Merge(&b)
		return a
	},
	Reduce: func(tc *mapreduce.TaskContext, _ int8, lists iter.Seq[Top], emit func([]byte, int64)) error {
		k, err := param(tc)
		if err != nil {
			return err
		}
		all := NewTop(k)
		for l := range lists {
			all.Merge(&l)
		}
		for _, e := range all.Sorted() {
			emit(e.Key, e.Count)
		}
		return nil
	},
	ValueCodec: TopCodec{},
})

func param(tc *mapreduce.TaskContext) (int, error) { return ParseK(tc.Param("k")) }

// ParseK reads a --k parameter: DefaultK when it is empty. topwords reads
// its own --k with it.
func ParseK(s string) (int, error) {
	if s == "" {
		return DefaultK, nil
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 1 {
		return 0, fmt.Errorf("--k %q: want a positive integer", s)
	}
	return k, nil
}

// fromColumns reads the key and count of a record with named columns: the
// columns --key-column and --count-column, by default the first and the
// last (word and count of wordcount's output, url and hits of urlcount's).
func fromColumns(tc *mapreduce.TaskContext, rec mapreduce.Record) ([]byte, int64, error) {
	keyCol, countCol := tc.Param("key-column"), tc.Param("count-column")
	if keyCol == "" || countCol == "" {
		names := rec.ColumnNames()
		if len(names) < 2 {
			// A JSON line that does not parse has no names either:
			// say what is wrong with it, not that it has no columns.
			if _, err := rec.Text(""); err != nil && !errors.Is(err, mapreduce.ErrNoColumn) {
				return nil, 0, fmt.Errorf("topk: %w", err)
			}
			return nil, 0, fmt.Errorf("topk: %s: a key and a count column are needed, the input has %q", rec.File, names)
		}
		if keyCol == "" {
			keyCol = names[0]
		}
		if countCol == "" {
			countCol = names[len(names)-1]
			if err := checkHeader(rec, countCol); err != nil {
				return nil, 0, err
			}
		}
	}
	key, err := rec.Text(keyCol)
	if err != nil {
		return nil, 0, fmt.Errorf("topk: %s: --key-column: %w", rec.File, err)
	}
	n, err := rec.Int(countCol)
	if err != nil {
		return nil, 0, fmt.Errorf("topk: %s: --count-column: %w", rec.File, err)
	}
	return key, n, nil
}

// checkHeader refuses a CSV or TSV file whose header, by which topk finds
// its count column, is a row of counts: a KEY<TAB>COUNT file named .tsv has
// no header, and reading its first line as one would drop that line
// without a word. A column named by a whole number is taken for a count.
// It runs for every record, so the usual case, a column named by a word,
// is decided first and without allocating.
func checkHeader(rec mapreduce.Record, countCol string) error {
	if !allDigits(countCol) {
		return nil
	}
	if f := input.FormatOf(rec.File); f != input.CSV && f != input.TSV {
		return nil
	}
	return fmt.Errorf("topk: %s: the first line, read as the header of a CSV or TSV file, names its last column %q, a number: the file has no header and its first line would be lost; name it .txt (or pass --input-format text) to read KEY<TAB>COUNT lines, or give it a header (%w)",
		rec.File, countCol, input.ErrColumns)
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// columnParam is the first of --key-column and --count-column given, or "".
func columnParam(tc *mapreduce.TaskContext) string {
	for _, name := range []string{"key-column", "count-column"} {
		if tc.Param(name) != "" {
			return name
		}
	}
	return ""
}

// ParseLine splits a line into its key and count: "KEY<TAB>COUNT" when the
// text after the last tab is a decimal int64, else the whole line with
// count 1. key is a subslice of line.
func ParseLine(line []byte) (key []byte, count int64) {
	i := bytes.LastIndexByte(line, '\t')
	if i < 0 {
		return line, 1
	}
	n, ok := parseInt(line[i+1:])
	if !ok {
		return line, 1
	}
	return line[:i], n
}

// parseInt parses an optionally signed decimal int64 without allocating
// (strconv.ParseInt would need a string).
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// Entry is one key and its count.
type Entry struct {
	Key   []byte
	Count int64
}

// before reports whether a ranks before b: larger count, then smaller key.
func before(a, b *Entry) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return bytes.Compare(a.Key, b.Key) < 0
}

// Top keeps the k best entries seen: a heap with the worst kept entry at
// the root, so that a candidate is compared with one entry and most are
// rejected without copying. A Top made by the map function holds one entry
// inline instead (one, hasOne), which costs no allocation.
type Top struct {
	k      int
	items  []Entry
	one    Entry
	hasOne bool
}

// NewTop returns an empty list that keeps k entries.
func NewTop(k int) *Top { return &Top{k: k} }

// One returns a list that keeps k entries holding the one entry key, count.
// It holds the entry inline and views key, so it allocates nothing: a map
// function emits one per record into a combiner, which copies what it
// keeps (Merge). topwords' offer step did NewTop and Add, three
// allocations a word: over 6.8 million distinct words that was 1.9 of the
// count stage's 3.2 s.
func One(k int, key []byte, count int64) Top {
	return Top{k: k, one: Entry{Key: key, Count: count}, hasOne: true}
}

// Merge adds every entry of o to t.
func (t *Top) Merge(o *Top) {
	if t.hasOne {
		// Normalise t first: its inline entry views memory t does not own.
		t.hasOne = false
		t.Add(t.one.Key, t.one.Count)
		t.one = Entry{}
	}
	if o.hasOne {
		t.Add(o.one.Key, o.one.Count)
	}
	for i := range o.items {
		t.Add(o.items[i].Key, o.items[i].Count)
	}
}

// Len returns the number of entries held.
func (t *Top) Len() int {
	if t.hasOne {
		return len(t.items) + 1
	}
	return len(t.items)
}

// Add offers an entry; the list copies key if it keeps it, reusing the
// buffer of the entry it evicts.
func (t *Top) Add(key []byte, count int64) {
	e := Entry{Key: key, Count: count}
	if len(t.items) < t.k {
		e.Key = append([]byte(nil), key...)
		t.items = append(t.items, e)
		t.up(len(t.items) - 1)
		return
	}
	if t.k == 0 || !before(&e, &t.items[0]) {
		return
	}
	t.items[0].Key = append(t.items[0].Key[:0], key...)
	t.items[0].Count = count
	t.down(0)
}

// Sorted returns the kept entries, best first, and empties t.
func (t *Top) Sorted() []Entry {
	t.Merge(&Top{})
	slices.SortFunc(t.items, func(a, b Entry) int {
		if before(&a, &b) {
			return -1
		}
		if before(&b, &a) {
			return 1
		}
		return 0
	})
	out := t.items
	t.items = nil
	return out
}

// worse orders the heap: the worst entry is the root.
func (t *Top) worse(i, j int) bool { return before(&t.items[j], &t.items[i]) }

func (t *Top) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(i, p) {
			return
		}
		t.items[i], t.items[p] = t.items[p], t.items[i]
		i = p
	}
}

func (t *Top) down(i int) {
	n := len(t.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.worse(r, l) {
			m = r
		}
		if !t.worse(m, i) {
			return
		}
		t.items[i], t.items[m] = t.items[m], t.items[i]
		i = m
	}
}

// TopCodec encodes a Top as uvarint k, uvarint entry count, then each entry
// as uvarint key length, key bytes, varint count.
type TopCodec struct{}

// Append implements mapreduce.Codec.
func (TopCodec) Append(dst []byte, t Top) []byte {
	dst = binary.AppendUvarint(dst, uint64(t.k))
	dst = binary.AppendUvarint(dst, uint64(t.Len()))
	if t.hasOne {
		dst = appendEntry(dst, &t.one)
	}
	for i := range t.items {
		dst = appendEntry(dst, &t.items[i])
	}
	return dst
}

func appendEntry(dst []byte, e *Entry) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e.Key)))
	dst = append(dst, e.Key...)
	return binary.AppendVarint(dst, e.Count)
}

// Decode implements mapreduce.Codec. The entries' keys share one copy of b.
func (TopCodec) Decode(b []byte) (Top, error) {
	bad := func(what string) (Top, error) {
		return Top{}, fmt.Errorf("%w: topk list of %d bytes: %s", mapreduce.ErrCodec, len(b), what)
	}
	k, n := binary.Uvarint(b)
	if n <= 0 || k > 1<<31 {
		return bad("bad k")
	}
	rest := b[n:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) || count > k {
		return bad("bad entry count")
	}
	rest = append([]byte(nil), rest[n:]...)
	t := Top{k: int(k), items: make([]Entry, 0, count)}
	for range count {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return bad("bad key length")
		}
		key := rest[n : n+int(l) : n+int(l)]
		rest = rest[n+int(l):]
		c, n := binary.Varint(rest)
		if n <= 0 {
			return bad("bad count")
		}
		rest = rest[n:]
		t.items = append(t.items, Entry{Key: key, Count: c})
		t.up(len(t.items) - 1)
	}
	if len(rest) != 0 {
		return bad("trailing bytes")
	}
	return t, nil
}

// AppendBinary implements encoding.BinaryAppender with TopCodec's
// encoding, so that a pipeline (package pipeline) keeps a Top in its runs.
func (t Top) AppendBinary(dst []byte) ([]byte, error) { return TopCodec{}.Append(dst, t), nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler (TopCodec.Decode).
func (t *Top) UnmarshalBinary(b []byte) error {
	v, err := TopCodec{}.Decode(b)
	*t = v
	return err
}
