// Package join is a reduce-side equi-join of two inputs, inner or left, as
// a registered app.
//
// # Sides
//
// The job's inputs hold both sides; --left GLOB and --right GLOB say which
// file is which. A glob without a "/" is matched (path.Match) against the
// file's base name, so --left 'users*.csv' picks users.csv in any input
// directory; a glob with a "/" is matched against the whole path as the job
// was given it (slash-separated). On Windows a backslash in a glob is a
// separator, as in filepath.Match there, never an escape: --left
// 'C:\data\users*.csv' matches C:\data\users.csv. A file that matches neither glob, or both,
// fails the map task with an error naming it: silently dropping or doubling
// a file would make a wrong join look right.
//
// # Keys
//
// --left-key and --right-key name the key columns of each side
// (comma-separated for a composite key; both lists have the same length).
// Columns come from the input format: the CSV or TSV header, the Parquet or
// Arrow schema, so text and JSON lines inputs cannot be joined. Keys are
// compared as text, exactly (no trimming, no case folding): a Parquet int64
// 7 and a CSV "7" match, a CSV "07" does not. A key column absent from a
// file's header fails the job with an error listing the file's columns
// (--right-key userid where the header says user_id would otherwise join
// nothing). A row with an empty key column (Parquet and Arrow nulls read
// as empty) is counted in the rows_without_key counter and matches
// nothing, as SQL's NULL never joins: an inner join skips it, and a left
// join writes it once, as SQL and Spark keep it, with its key as it is
// (empty, or with an empty part) and the unmatched rows' padding. Such rows
// are not counted as unmatched_left_rows.
//
// # Output
//
// One record per match: the key is the join key as a string (the parts of
// a composite key joined by tabs), the value a Joined: the left row's fields,
// then the right row's fields without the right key columns (their values
// equal the left key's). Text output writes the Row as tab-separated
// fields, so a line reads "KEY<TAB>LEFT FIELDS…<TAB>RIGHT FIELDS…"; JSON
// lines, Parquet and Arrow output have the key column "key", then one text
// column per field named after the input headers (columnsFromInput: the
// left header, then the right one without its key columns; a clashing name
// gets _1, _2, …). A field holding a tab or newline makes text output
// ambiguous: use --format jsonl or parquet for such data.
//
// With --type left, a left row that no right row matches is written once,
// with its fields followed by --right-columns minus the number of key
// columns empty fields. A reducer cannot learn the width of the right side
// by itself (it may hold no right row at all), so without --right-columns
// (0, the default) an unmatched row carries its left fields only, and its
// Joined is shorter than a matched one: in text output a shorter line, in
// JSON lines, Parquet and Arrow nulls in the right columns. The
// unmatched_left_rows counter counts these rows in both join types.
//
// # Stages
//
// join is a pipeline (package pipeline): a read stage per side, each over
// its side's files only, which run side by side, and a cogroup of the two
// sides' rows by join key that writes the output.
//
// # Memory
//
// The cogroup merges each side's rows of a partition separately and walks
// the two sorted streams together, so a key's left rows and right rows come
// as two iterators. The reducer holds the left rows of one key in memory,
// then streams the right rows past them: memory is bounded by the largest
// key's left rows, whatever the size of the right side. Put the side with
// fewer rows per key (the "one" of one-to-many, the dimension table) on the
// left. Right rows of a key without left rows are skipped unread.
package join

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/pathfmt"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// Example writes two small CSV files and joins them.
const Example = `printf 'id,name\n1,ada\n2,bob\n' > users.csv; printf 'user_id,item\n1,book\n1,pen\n3,cup\n' > orders.csv` + "\n" +
	"quern run join --input users.csv --input orders.csv --left users.csv --right orders.csv --left-key id --right-key user_id --output out"

// Counter names the job adds to the summary.
const (
	// CounterRowsWithoutKey counts input rows skipped because a key column
	// was absent or empty.
	CounterRowsWithoutKey = "rows_without_key"
	// CounterUnmatchedLeftRows counts left rows that no right row matched.
	CounterUnmatchedLeftRows = "unmatched_left_rows"
)

// Join types, the values of --type.
const (
	Inner = "inner"
	Left  = "left"
)

// Sides of a Row.
const (
	SideLeft  = 0
	SideRight = 1
)

// ErrParam reports a missing or malformed parameter.
var ErrParam = errors.New("join: bad parameter")

// Pipeline is the registered join: two read stages, one per side (each
// reads only its side's files, and the two run side by side), then a
// cogroup of their rows by the encoded join key (see appendKey) that writes
// the output.
var Pipeline = pipeline.Register("join",
	"reduce-side equi-join of two CSV/TSV/Parquet/Arrow inputs on key columns, inner or left",
	append(slices.Clone(SideParams),
		mapreduce.Param{Name: "type", Default: Inner, Usage: "join type: inner or left"},
		mapreduce.Param{Name: "right-columns", Default: "0", Usage: "number of columns of the right input; a left join pads unmatched rows to it with empty fields, for text output (0: no padding; JSON lines, Parquet and Arrow output have nulls there without it)"},
	),
	func(p *pipeline.Pipeline) {
		left := ReadSide(p, "left", SideLeft, rowOf(SideLeft))
		right := ReadSide(p, "right", SideRight, rowOf(SideRight))
		pipeline.Output(pipeline.CoGroup(left, right, "join", joinKey))
		// Named after the input's headers (see the package doc's Output).
		pipeline.OutputColumns(p, columnsFromInput)
	})

// SideParams are the parameters that pick the two sides and their keys,
// which a pipeline that reads with ReadSide declares.
var SideParams = []mapreduce.Param{
	{Name: "left", Required: true, Usage: "glob naming the left input files (base name, or full path if it has a /)"},
	{Name: "right", Required: true, Usage: "glob naming the right input files (base name, or full path if it has a /)"},
	{Name: "left-key", Required: true, Usage: "key column(s) of the left side, comma-separated"},
	{Name: "right-key", Required: true, Usage: "key column(s) of the right side, comma-separated"},
}

// sideFiles keeps the input files of one side. A file that matches
// neither glob, or both, is an error naming it.
func sideFiles(want int) func(params map[string]string, file string) (bool, error) {
	return func(params map[string]string, file string) (bool, error) {
		c, err := parseConfig(func(name string) string { return params[name] })
		if err != nil {
			return false, err
		}
		side, err := c.side(file)
		return side == want, err
	}
}

// Row is one side's row on its way from the map function to the reducer.
type Row struct {
	// Side is SideLeft or SideRight.
	Side int
	// Fields are the row's fields (a right row's without its key
	// columns). Fields of a decoded Row share one string.
	Fields []string

	// raw holds the fields on the map side, viewing the input record, so
	// that emitting a row converts nothing to strings. RowCodec writes raw
	// when it is set, but for the positions in skip (a right row's key
	// columns), else Fields.
	raw  [][]byte
	skip []int
}

// Joined is an output row: the left row's fields, then the right row's
// fields without the right key columns. In JSON lines, Parquet and Arrow
// output each field is a text column named after the input headers (a list
// column when no header is known: a side without files).
type Joined []string

// String returns the fields joined by tabs: the text output form.
func (j Joined) String() string { return strings.Join(j, "\t") }

// UnmarshalText parses the text output form back (for `quern run --merge`
// and output.Open), splitting at every tab.
func (j *Joined) UnmarshalText(b []byte) error {
	*j = strings.Split(string(b), "\t")
	return nil
}

// config is the parsed parameters of one job run.
type config struct {
	left, right       sideGlob
	leftKey, rightKey []string
	outer             bool
	pad               int // empty fields after an unmatched left row
}

// sideGlob is the --left or --right glob.
type sideGlob struct {
	given string // as given, for messages
	slash string // slash-separated, as match compares it with a path
	full  bool   // it has a separator: match the whole path, else the base name
}

// newSideGlob reads glob with sep as the path separator: where that is a
// backslash (Windows), each backslash separates, as filepath.Match has it
// there; elsewhere a backslash escapes the next character (path.Match).
func newSideGlob(glob string, sep rune) (sideGlob, error) {
	if glob == "" {
		return sideGlob{}, fmt.Errorf("%w: --left and --right are required", ErrParam)
	}
	slash := glob
	if sep == '\\' {
		slash = strings.ReplaceAll(glob, `\`, "/")
	}
	if _, err := path.Match(slash, ""); err != nil {
		return sideGlob{}, fmt.Errorf("%w: glob %s: %w", ErrParam, pathfmt.Quote(glob), err)
	}
	return sideGlob{given: glob, slash: slash, full: strings.Contains(slash, "/")}, nil
}

// match reports whether the input file (a path as the job was given it)
// matches g.
func (g sideGlob) match(file string) bool {
	name := filepath.ToSlash(file)
	if !g.full {
		name = path.Base(name)
	}
	ok, _ := path.Match(g.slash, name) // the glob was checked by newSideGlob
	return ok
}

// parseConfig parses and checks the job's parameters.
func parseConfig(param func(name string) string) (*config, error) {
	c := &config{}
	var err error
	if c.left, err = newSideGlob(param("left"), filepath.Separator); err != nil {
		return nil, err
	}
	if c.right, err = newSideGlob(param("right"), filepath.Separator); err != nil {
		return nil, err
	}
	c.leftKey = splitColumns(param("left-key"))
	c.rightKey = splitColumns(param("right-key"))
	if len(c.leftKey) == 0 || len(c.rightKey) == 0 {
		return nil, fmt.Errorf("%w: --left-key and --right-key are required", ErrParam)
	}
	if len(c.leftKey) != len(c.rightKey) {
		return nil, fmt.Errorf("%w: --left-key has %d columns, --right-key %d", ErrParam, len(c.leftKey), len(c.rightKey))
	}
	switch t := param("type"); t {
	case "", Inner:
	case Left:
		c.outer = true
	default:
		return nil, fmt.Errorf("%w: --type %q: want inner or left", ErrParam, t)
	}
	if s := param("right-columns"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 0 && n < len(c.rightKey) {
			return nil, fmt.Errorf("%w: --right-columns %q: want 0 or at least the %d key columns", ErrParam, s, len(c.rightKey))
		}
		if n > 0 {
			c.pad = n - len(c.rightKey)
		}
	}
	return c, nil
}

func splitColumns(s string) []string {
	if s == "" {
		return nil
	}
	cols := strings.Split(s, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

// side returns the side of a file, or an error when it matches neither glob
// or both.
func (c *config) side(file string) (int, error) {
	l, r := c.left.match(file), c.right.match(file)
	switch {
	case l && r:
		return 0, fmt.Errorf("%w: input %s matches both --left %s and --right %s", ErrParam, file, pathfmt.Quote(c.left.given), pathfmt.Quote(c.right.given))
	case l:
		return SideLeft, nil
	case r:
		return SideRight, nil
	}
	return 0, fmt.Errorf("%w: input %s matches neither --left %s nor --right %s", ErrParam, file, pathfmt.Quote(c.left.given), pathfmt.Quote(c.right.given))
}

// mapScratch is the map side's per-record working memory, pooled so that
// the map function allocates nothing per record. It also caches the parsed
// parameters and the side and key column positions of the last file seen:
// records come a split at a time, so the cache almost always hits.
type mapScratch struct {
	params [6]string // the parameters cfg was parsed from
	cfg    *config

	file    string
	columns []string // the Columns the positions below were found in
	located bool     // keyCols holds the positions in columns
	side    int
	keyCols []int // positions of the side's key columns; -1: absent

	key []byte
}

var mapPool = sync.Pool{New: func() any { return new(mapScratch) }}

// setup brings s's cached configuration up to date with tc's parameters and
// rec's file.
func (s *mapScratch) setup(tc *mapreduce.TaskContext, rec *mapreduce.Record) error {
	params := [6]string{tc.Param("left"), tc.Param("right"), tc.Param("left-key"),
		tc.Param("right-key"), tc.Param("type"), tc.Param("right-columns")}
	if s.cfg == nil || params != s.params {
		cfg, err := parseConfig(tc.Param)
		if err != nil {
			return err
		}
		s.cfg, s.params, s.file, s.located = cfg, params, "", false
	}
	if rec.File != s.file {
		side, err := s.cfg.side(rec.File)
		if err != nil {
			return err
		}
		s.file, s.side, s.located = rec.File, side, false
	}
	if !s.located || !sameSlice(s.columns, rec.Columns) {
		keys := s.cfg.leftKey
		if s.side == SideRight {
			keys = s.cfg.rightKey
		}
		var err error
		if rec.Columns != nil {
			if s.keyCols, err = keyPositions(s.keyCols[:0], s.side, keys, rec.File, rec.Columns); err != nil {
				return err
			}
		}
		s.columns, s.located = rec.Columns, true
	}
	return nil
}

// keyPositions appends to dst the positions in columns (file's) of the
// key columns of side. A key column the header does not have would skip
// every row of the file: an empty join that looks like a result. It is an
// error, with the columns there are.
func keyPositions(dst []int, side int, keys []string, file string, columns []string) ([]int, error) {
	for _, k := range keys {
		pos := slices.Index(columns, k)
		if pos < 0 {
			flag := "--left-key"
			if side == SideRight {
				flag = "--right-key"
			}
			return nil, fmt.Errorf("%w: %s %q: no such column in %s (columns: %s)",
				ErrParam, flag, k, file, strings.Join(columns, ", "))
		}
		dst = append(dst, pos)
	}
	return dst, nil
}

// columnsFromInput names the output's value columns while the job is
// planned: the left side's header, then the right side's without its key
// columns. A name already taken (by an earlier column, or "key", the key
// column's) gets the first free suffix _1, _2, …, as DuckDB names the
// clashing columns of SELECT *. Every file of a side must have the same
// columns, or the rows would not fit the names: files that differ are an
// error naming both. Key columns absent from a header fail here, before
// any task runs, as the map function would.
func columnsFromInput(param func(string) string, files []input.File) ([]string, error) {
	c, err := parseConfig(param)
	if err != nil {
		return nil, err
	}
	var heads [2][]string
	var from [2]string
	for _, f := range files {
		side, err := c.side(f.Path)
		if err != nil {
			return nil, err
		}
		cols, err := input.Columns(f)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			return nil, fmt.Errorf("%w: input %s has no columns (join reads CSV, TSV, Parquet or Arrow)", ErrParam, f.Path)
		}
		switch {
		case heads[side] == nil:
			heads[side], from[side] = cols, f.Path
		case !slices.Equal(heads[side], cols):
			return nil, fmt.Errorf("%w: %s and %s are on the same side but have different columns (%s; %s)",
				ErrParam, from[side], f.Path, strings.Join(heads[side], ", "), strings.Join(cols, ", "))
		}
	}
	if heads[SideLeft] == nil || heads[SideRight] == nil {
		return nil, nil // no file on a side: an empty join, whose columns no header names
	}
	if _, err := keyPositions(nil, SideLeft, c.leftKey, from[SideLeft], heads[SideLeft]); err != nil {
		return nil, err
	}
	rightKeys, err := keyPositions(nil, SideRight, c.rightKey, from[SideRight], heads[SideRight])
	if err != nil {
		return nil, err
	}
	names := slices.Clone(heads[SideLeft])
	for i, col := range heads[SideRight] {
		if !isKeyCol(rightKeys, i) {
			names = append(names, col)
		}
	}
	taken := map[string]bool{"key": true}
	for i, n := range names {
		for j := 1; taken[names[i]]; j++ {
			names[i] = fmt.Sprintf("%s_%d", n, j)
		}
		taken[names[i]] = true
	}
	return names, nil
}

// sameSlice reports whether a and b are the same slice (Columns is shared by
// every record of a file, so identity is the cheap test).
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// ReadSide adds a stage to p that reads the input files of one side of a
// join (SideLeft or SideRight, as the parameters left and right pick them:
// declare SideParams in p) and emits, for each row, its encoded join key
// (see appendKey) and what project makes of the row; keyCols are the
// positions of the key columns in rec.Fields. A row whose key is missing
// or has an empty part is counted (rows_without_key) and skipped, but for
// a left row of a left join, which is emitted with its key as it is so
// that the reducer writes it (see joinKey). The join's own stages are two
// ReadSides; another pipeline (joinagg) reads with it what it needs of
// each row.
func ReadSide[V any](p *pipeline.Pipeline, name string, side int,
	project func(tc *mapreduce.TaskContext, rec mapreduce.Record, keyCols []int) (V, error)) pipeline.Collection[[]byte, V] {
	return pipeline.ReadFiles(p, name, sideFiles(side), func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, V)) error {
		s := mapPool.Get().(*mapScratch)
		defer mapPool.Put(s)
		if err := s.setup(tc, &rec); err != nil {
			return err
		}
		if rec.Columns == nil {
			return fmt.Errorf("%w: input %s has no columns (join reads CSV, TSV, Parquet or Arrow)", ErrParam, rec.File)
		}
		s.key = s.key[:0]
		keyless := false
		for i, pos := range s.keyCols {
			var part []byte
			if pos >= 0 && pos < len(rec.Fields) {
				part = rec.Fields[pos]
			}
			if len(part) == 0 && !keyless {
				tc.Count(CounterRowsWithoutKey, 1)
				if side != SideLeft || !s.cfg.outer {
					return nil
				}
				keyless = true
			}
			s.key = appendKey(s.key, i, len(s.keyCols), part)
		}
		v, err := project(tc, rec, s.keyCols)
		if err != nil {
			return err
		}
		emit(s.key, v)
		return nil
	})
}

// rowOf is the join's projection of a row: all its fields, but for the
// right key columns (the output has the key once, in the left fields). The
// Row views the record; it is encoded before the record is reused.
func rowOf(side int) func(tc *mapreduce.TaskContext, rec mapreduce.Record, keyCols []int) (Row, error) {
	return func(_ *mapreduce.TaskContext, rec mapreduce.Record, keyCols []int) (Row, error) {
		row := Row{Side: side, raw: rec.Fields}
		if side == SideRight {
			row.skip = keyCols
		}
		return row, nil
	}
}

func isKeyCol(cols []int, i int) bool {
	for _, c := range cols {
		if c == i {
			return true
		}
	}
	return false
}

// appendKey appends part i of n of a join key to dst. A one-column key is
// its bytes. A composite key escapes each part (0x00 becomes 0x00 0xFF) and
// ends every part but the last with 0x00 0x01, which sorts below any byte
// an escaped part can continue with: keys sort as tuples of their parts,
// and no two tuples share an encoding ("a\x00", "b" vs "a", "\x00b").
func appendKey(dst []byte, i, n int, part []byte) []byte {
	if n == 1 {
		return append(dst, part...)
	}
	for _, c := range part {
		dst = append(dst, c)
		if c == 0 {
			dst = append(dst, 0xFF)
		}
	}
	if i < n-1 {
		dst = append(dst, 0x00, 0x01)
	}
	return dst
}

// hasEmptyPart reports whether an encoded key of n parts (see appendKey)
// has an empty part: a row without a key.
func hasEmptyPart(key []byte, n int) bool {
	if n == 1 {
		return len(key) == 0
	}
	partLen := 0
	for i := 0; i < len(key); i++ {
		if key[i] == 0 && i+1 < len(key) && key[i+1] == 0x01 {
			if partLen == 0 {
				return true
			}
			partLen = 0
			i++
			continue
		}
		partLen++
	}
	return partLen == 0
}

// keyText returns the text of an encoded key of n parts: the parts joined
// by tabs.
func keyText(key []byte, n int) string {
	if n == 1 {
		return string(key)
	}
	b := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == 0 && i+1 < len(key) {
			i++
			if key[i] == 0x01 {
				b = append(b, '\t')
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// reduceScratch is the reducer's working memory, pooled across keys.
type reduceScratch struct {
	params [6]string
	cfg    *config
	left   []Row
	out    Joined
	pad    []string

	text    string // the output key, made once per key that has output
	matched bool   // a right row met the key's left rows
}

var reducePool = sync.Pool{New: func() any { return new(reduceScratch) }}

// joinKey joins the left and right rows of one key. It holds the left rows
// in memory and streams the right rows past them.
func joinKey(tc *mapreduce.TaskContext, key []byte, lefts, rights iter.Seq[Row], emit func(string, Joined)) error {
	s := reducePool.Get().(*reduceScratch)
	defer reducePool.Put(s)
	params := [6]string{tc.Param("left"), tc.Param("right"), tc.Param("left-key"),
		tc.Param("right-key"), tc.Param("type"), tc.Param("right-columns")}
	if s.cfg == nil || params != s.params {
		cfg, err := parseConfig(tc.Param)
		if err != nil {
			return err
		}
		s.cfg, s.params = cfg, params
		s.pad = make([]string, cfg.pad)
	}
	if s.cfg.outer && hasEmptyPart(key, len(s.cfg.leftKey)) {
		// Left rows without a key, which no right row has: each is written
		// as it comes, not held, since they may be many (nulls skew).
		text := keyText(key, len(s.cfg.leftKey))
		for v := range lefts {
			s.out = append(append(s.out[:0], v.Fields...), s.pad...)
			emit(text, s.out)
		}
		return nil
	}
	clear(s.left) // let the previous key's rows be collected
	s.left = s.left[:0]
	for v := range lefts {
		s.left = append(s.left, v)
	}
	if len(s.left) == 0 {
		// Right rows without left rows join nothing in an inner or a
		// left join: they are skipped unread.
		return nil
	}
	// The loop body is a closure handed to rights: state it changes lives
	// in s, not in locals, which would each move to the heap per key.
	s.text, s.matched = "", false
	for v := range rights {
		if !s.matched {
			s.matched = true
			s.text = keyText(key, len(s.cfg.leftKey))
		}
		for i := range s.left {
			s.out = append(append(s.out[:0], s.left[i].Fields...), v.Fields...)
			emit(s.text, s.out)
		}
	}
	if !s.matched {
		tc.Count(CounterUnmatchedLeftRows, int64(len(s.left)))
		if s.cfg.outer {
			text := keyText(key, len(s.cfg.leftKey))
			for i := range s.left {
				s.out = append(append(s.out[:0], s.left[i].Fields...), s.pad...)
				emit(text, s.out)
			}
		}
	}
	return nil
}

// RowCodec encodes a Row for the shuffle as the side byte, a uvarint field
// count, then each field as a uvarint length and its bytes:
//
//	side | n | len(f0) f0 | len(f1) f1 | …
//	0x01   0x02  0x03 "abc"  0x00          (right row "abc", "")
type RowCodec struct{}

var _ mapreduce.Codec[Row] = RowCodec{}

// ErrCorrupt reports a shuffled Row that does not decode.
var ErrCorrupt = errors.New("join: corrupt row")

// Append implements mapreduce.Codec.
func (RowCodec) Append(dst []byte, r Row) []byte {
	dst = append(dst, byte(r.Side))
	if r.raw != nil {
		n := len(r.raw)
		for _, i := range r.skip {
			if i < len(r.raw) {
				n--
			}
		}
		dst = binary.AppendUvarint(dst, uint64(n))
		for i, f := range r.raw {
			if isKeyCol(r.skip, i) {
				continue
			}
			dst = binary.AppendUvarint(dst, uint64(len(f)))
			dst = append(dst, f...)
		}
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Fields)))
	for _, f := range r.Fields {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// Decode implements mapreduce.Codec. The fields of the Row share one string:
// two allocations per row, whatever its width.
func (RowCodec) Decode(b []byte) (Row, error) {
	if len(b) < 2 || b[0] > SideRight {
		return Row{}, fmt.Errorf("%w: %d bytes, bad header", ErrCorrupt, len(b))
	}
	r := Row{Side: int(b[0])}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)) {
		return Row{}, fmt.Errorf("%w: %d bytes, bad field count", ErrCorrupt, len(b))
	}
	s := string(b[1+w:])
	r.Fields = make([]string, n)
	for i := range r.Fields {
		l, w := uvarint(s)
		if w <= 0 || l > uint64(len(s)-w) {
			return Row{}, fmt.Errorf("%w: %d bytes, field %d of %d: bad length", ErrCorrupt, len(b), i, n)
		}
		r.Fields[i] = s[w : w+int(l)]
		s = s[w+int(l):]
	}
	if len(s) != 0 {
		return Row{}, fmt.Errorf("%w: %d bytes, %d trailing", ErrCorrupt, len(b), len(s))
	}
	return r, nil
}

// AppendBinary appends r's RowCodec encoding: how rows travel between the
// pipeline's stages.
func (r Row) AppendBinary(b []byte) ([]byte, error) { return RowCodec{}.Append(b, r), nil }

// UnmarshalBinary decodes a row that AppendBinary encoded.
func (r *Row) UnmarshalBinary(b []byte) error {
	row, err := RowCodec{}.Decode(b)
	*r = row
	return err
}

// uvarint is binary.Uvarint on a string, so that Decode reads lengths from
// the one string it allocated.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
