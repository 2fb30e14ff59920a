package join_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/join"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// table is an input side held in memory: a header and rows of text
// fields, an empty field standing for a missing (null) value.
type table struct {
	header []string
	rows   [][]string
}

// makeTables returns users (id, name, city) and orders (order_id, user_id,
// amount, city). Ids 0..keys-1 appear on both sides, some several times;
// ids from keys on appear on one side only; a few rows have no key. Names
// hold commas and quotes, so CSV must quote them.
func makeTables(seed uint64, keys int) (users, orders table) {
	r := rand.New(rand.NewPCG(seed, 1))
	cities := []string{"Oslo", "Lima", "Pune, MH", `"Old" Town`}
	users.header = []string{"id", "name", "city"}
	for id := range keys + keys/4 { // ids >= keys: left only
		for range r.IntN(3) { // 0, 1 or 2 rows: duplicates and right-only ids
			users.rows = append(users.rows, []string{
				strconv.Itoa(id), fmt.Sprintf(`Smith, "J%d"`, r.IntN(1000)), cities[r.IntN(len(cities))]})
		}
	}
	for range keys / 10 {
		users.rows = append(users.rows, []string{"", "no key", "Oslo"})
	}
	orders.header = []string{"order_id", "user_id", "amount", "city"}
	for o := range keys * 4 {
		uid := strconv.Itoa(r.IntN(keys))
		if o%9 == 0 {
			uid = strconv.Itoa(keys*2 + r.IntN(keys)) // right only
		}
		if o%31 == 0 {
			uid = ""
		}
		orders.rows = append(orders.rows, []string{
			strconv.Itoa(o), uid, fmt.Sprintf("%d.%02d", r.IntN(500), r.IntN(100)), cities[r.IntN(len(cities))]})
	}
	r.Shuffle(len(users.rows), func(i, j int) { users.rows[i], users.rows[j] = users.rows[j], users.rows[i] })
	return users, orders
}

func (t table) col(name string) int { return slices.Index(t.header, name) }

// nestedLoop is the reference join: every left row against every right
// row, written as the text output lines the job should produce.
func nestedLoop(left, right table, lkey, rkey []string, outer bool, rightColumns int) []string {
	var lines []string
	// keyOf is the row's key text, and whether it has every part (SQL:
	// no part is NULL), which it needs to match.
	keyOf := func(t table, row []string, cols []string) (string, bool) {
		var parts []string
		for _, c := range cols {
			parts = append(parts, row[t.col(c)])
		}
		return strings.Join(parts, "\t"), !slices.Contains(parts, "")
	}
	for _, l := range left.rows {
		k, ok := keyOf(left, l, lkey)
		matched := false
		for _, r := range right.rows {
			if !ok {
				break
			}
			if rk, ok := keyOf(right, r, rkey); !ok || rk != k {
				continue
			}
			matched = true
			var rest []string
			for i, f := range r {
				if !slices.Contains(rkey, right.header[i]) {
					rest = append(rest, f)
				}
			}
			lines = append(lines, k+"\t"+strings.Join(append(slices.Clone(l), rest...), "\t"))
		}
		if !matched && outer {
			pad := 0
			if rightColumns > 0 {
				pad = rightColumns - len(rkey)
			}
			lines = append(lines, k+"\t"+strings.Join(append(slices.Clone(l), make([]string, pad)...), "\t"))
		}
	}
	slices.Sort(lines)
	return lines
}

func writeCSV(t *testing.T, path string, tb table, comma rune) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	w.Comma = comma
	require.NoError(t, w.Write(tb.header))
	require.NoError(t, w.WriteAll(tb.rows))
	require.NoError(t, f.Close())
}

// writeTSV writes tb without quoting: TSV has none, and the test data
// holds no tabs.
func writeTSV(t *testing.T, path string, tb table) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(tb.header, "\t") + "\n")
	for _, r := range tb.rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

// writeParquet writes tb with int64 id columns (null for an empty field)
// and string columns otherwise, in row groups of 64 rows so that the file
// makes several splits.
func writeParquet(t *testing.T, path string, tb table, intCols ...string) {
	t.Helper()
	var fields []arrow.Field
	for _, h := range tb.header {
		typ := arrow.DataType(arrow.BinaryTypes.String)
		if slices.Contains(intCols, h) {
			typ = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: h, Type: typ, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := pqarrow.NewFileWriter(schema, f,
		parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(64)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	require.NoError(t, err)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, row := range tb.rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.Int64Builder:
				if v == "" {
					fb.AppendNull()
				} else {
					n, err := strconv.ParseInt(v, 10, 64)
					require.NoError(t, err)
					fb.Append(n)
				}
			case *array.StringBuilder:
				fb.Append(v)
			}
		}
	}
	rec := b.NewRecordBatch()
	require.NoError(t, w.Write(rec))
	rec.Release()
	require.NoError(t, w.Close())
}

func sortedLines(parts [][]byte) []string {
	lines := apptest.Lines(parts)
	slices.Sort(lines)
	return lines
}

// TestJoinMatchesNestedLoop runs inner and left joins of every input
// format through the local engine (3 reducers, 16 KiB splits), checks that
// the inline engine writes identical parts, and compares the output with a
// nested-loop join.
func TestJoinMatchesNestedLoop(t *testing.T) {
	users, orders := makeTables(7, 400)
	dir := t.TempDir()
	files := map[string][2]string{}
	for _, format := range []string{"csv", "tsv", "parquet"} {
		sub := filepath.Join(dir, format)
		require.NoError(t, os.Mkdir(sub, 0o755))
		u, o := filepath.Join(sub, "users."+format), filepath.Join(sub, "orders."+format)
		switch format {
		case "csv":
			writeCSV(t, u, users, ',')
			writeCSV(t, o, orders, ',')
		case "tsv":
			writeTSV(t, u, users)
			writeTSV(t, o, orders)
		case "parquet":
			writeParquet(t, u, users, "id")
			writeParquet(t, o, orders, "user_id")
		}
		files[format] = [2]string{u, o}
	}
	st, err := os.Stat(files["csv"][1])
	require.NoError(t, err)
	require.Greater(t, st.Size(), 2*apptest.Small.SplitSize, "orders.csv must make several splits")

	leftOnly := 0
	for _, format := range []string{"csv", "tsv", "parquet"} {
		for _, typ := range []string{join.Inner, join.Left} {
			t.Run(format+"/"+typ, func(t *testing.T) {
				u, o := files[format][0], files[format][1]
				params := map[string]string{
					"left": "users.*", "right": "orders.*",
					"left-key": "id", "right-key": "user_id", "type": typ,
				}
				res, parts := apptest.RunPipeline(t, join.Pipeline, []string{u, o}, apptest.Small, params)
				want := nestedLoop(users, orders, []string{"id"}, []string{"user_id"}, typ == join.Left, 0)
				require.Equal(t, want, sortedLines(parts))
				require.Equal(t, int64(len(want)), res.Counters[mapreduce.ReduceOutputRecords])
				noKey := int64(0)
				for _, r := range users.rows {
					if r[0] == "" {
						noKey++
					}
				}
				for _, r := range orders.rows {
					if r[1] == "" {
						noKey++
					}
				}
				require.Equal(t, noKey, res.Counters[join.CounterRowsWithoutKey])
				require.Positive(t, res.Counters[join.CounterUnmatchedLeftRows])
				leftOnly = int(res.Counters[join.CounterUnmatchedLeftRows])
			})
		}
	}
	inner := nestedLoop(users, orders, []string{"id"}, []string{"user_id"}, false, 0)
	left := nestedLoop(users, orders, []string{"id"}, []string{"user_id"}, true, 0)
	keyless := 0
	for _, r := range users.rows {
		if r[0] == "" {
			keyless++
		}
	}
	require.Positive(t, keyless, "the test needs left rows without a key")
	require.Equal(t, len(left)-len(inner), leftOnly+keyless,
		"a left join adds the unmatched left rows and the left rows without a key")
}

// TestLeftJoinPadsToRightColumns checks that --right-columns pads unmatched
// left rows to the width of matched ones.
func TestLeftJoinPadsToRightColumns(t *testing.T) {
	users, orders := makeTables(11, 60)
	dir := t.TempDir()
	u, o := filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")
	writeCSV(t, u, users, ',')
	writeCSV(t, o, orders, ',')
	params := map[string]string{
		// Full-path globs: the pattern has a "/".
		"left": filepath.ToSlash(filepath.Join(dir, "u*.csv")), "right": filepath.ToSlash(filepath.Join(dir, "o*")),
		"left-key": "id", "right-key": "user_id", "type": join.Left, "right-columns": "4",
	}
	_, parts := apptest.RunPipeline(t, join.Pipeline, []string{dir}, apptest.Small, params)
	want := nestedLoop(users, orders, []string{"id"}, []string{"user_id"}, true, 4)
	got := sortedLines(parts)
	require.Equal(t, want, got)
	for _, line := range got {
		// key, 3 user fields, 3 order fields without user_id; the
		// user names hold no tabs.
		require.Len(t, strings.Split(line, "\t"), 7, line)
	}
}

// TestCompositeKey joins on (id, city) = (user_id, city): the output key is
// both parts joined by a tab, and a row joins only when both parts match.
func TestCompositeKey(t *testing.T) {
	users, orders := makeTables(3, 50)
	// Two ids with parts that would collide if parts were merely
	// concatenated: ("1", "2x") and ("12", "x").
	users.rows = append(users.rows, []string{"1", "a", "2x"}, []string{"12", "b", "x"})
	orders.rows = append(orders.rows, []string{"9001", "1", "1.00", "2x"}, []string{"9002", "12", "2.00", "x"})
	// Keys with one part empty match nothing, not even each other; a left
	// join writes the left ones.
	users.rows = append(users.rows, []string{"7", "c", ""}, []string{"", "d", "x"})
	orders.rows = append(orders.rows, []string{"9003", "7", "3.00", ""}, []string{"9004", "", "4.00", "x"})
	dir := t.TempDir()
	u, o := filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")
	writeCSV(t, u, users, ',')
	writeCSV(t, o, orders, ',')
	keyless := 0
	for _, r := range users.rows {
		if r[users.col("id")] == "" || r[users.col("city")] == "" {
			keyless++
		}
	}
	inner := nestedLoop(users, orders, []string{"id", "city"}, []string{"user_id", "city"}, false, 0)
	for _, typ := range []string{join.Inner, join.Left} {
		params := map[string]string{
			"left": "users.csv", "right": "orders.csv",
			"left-key": "id, city", "right-key": "user_id,city", "type": typ,
		}
		res, parts := apptest.RunPipeline(t, join.Pipeline, []string{u, o}, apptest.Small, params)
		want := nestedLoop(users, orders, []string{"id", "city"}, []string{"user_id", "city"}, typ == join.Left, 0)
		require.Equal(t, want, sortedLines(parts), typ)
		if typ == join.Left {
			require.Equal(t, int64(len(want)-len(inner)-keyless), res.Counters[join.CounterUnmatchedLeftRows],
				"rows without a key are not unmatched rows")
		}
		require.Contains(t, want, "1\t2x\t1\ta\t2x\t9001\t1.00")
		require.Contains(t, want, "12\tx\t12\tb\tx\t9002\t2.00")
		if typ == join.Left {
			require.Contains(t, want, "7\t\t7\tc\t")
			require.Contains(t, want, "\tx\t\td\tx")
		}
	}
}

// TestOutputColumnsAreTheHeaderNames checks that JSON lines, Parquet and
// Arrow output name the joined row's columns after the inputs' headers:
// the left header, then the right one without its key; a name taken before
// (by the key column "key" or the left side) gets _1. A left row without a
// match has nulls in the right columns.
func TestOutputColumnsAreTheHeaderNames(t *testing.T) {
	dir := t.TempDir()
	u, o := filepath.Join(dir, "l.csv"), filepath.Join(dir, "r.csv")
	require.NoError(t, os.WriteFile(u, []byte("k,v,key\n1,\"a,b\",p\n2,c,q\n"), 0o644))
	require.NoError(t, os.WriteFile(o, []byte("w,k,v\nx\ty,1,z\n"), 0o644))
	run := func(format string) string {
		out := filepath.Join(t.TempDir(), "out")
		_, err := join.Pipeline.Run(context.Background(), mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{u, o}, Output: out, Reducers: 1,
			TmpDir: t.TempDir(), OutputFormat: format,
			Params: map[string]string{"left": "l.csv", "right": "r.csv", "left-key": "k", "right-key": "k", "type": "left"},
		})
		require.NoError(t, err)
		parts, err := filepath.Glob(filepath.Join(out, "part-00000*"))
		require.NoError(t, err)
		require.Len(t, parts, 1)
		return parts[0]
	}
	data, err := os.ReadFile(run("jsonl"))
	require.NoError(t, err)
	require.Equal(t, `{"key":"1","k":"1","v":"a,b","key_1":"p","w":"x\ty","v_1":"z"}`+"\n"+
		`{"key":"2","k":"2","v":"c","key_1":"q","w":null,"v_1":null}`+"\n", string(data))

	f, err := os.Open(run("parquet"))
	require.NoError(t, err)
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	var names []string
	for _, fd := range tbl.Schema().Fields() {
		names = append(names, fd.Name+" "+fd.Type.String())
	}
	require.Equal(t, []string{"key utf8", "k utf8", "v utf8", "key_1 utf8", "w utf8", "v_1 utf8"}, names)
	require.Equal(t, 1, tbl.Column(5).Data().NullN(), "the unmatched left row's right columns are null")

	// Arrow output, read back through Quern's own reader of its output
	// (which --merge uses): the rows come back as they were joined.
	r, err := output.Open[string, join.Joined](run("arrow"), output.Options{
		Format: output.Arrow, ValueColumns: []string{"k", "v", "key_1", "w", "v_1"}})
	require.NoError(t, err)
	defer r.Close()
	var rows []string
	for k, v, ok := r.Next(); ok; k, v, ok = r.Next() {
		rows = append(rows, k+"|"+strings.Join(v, "|"))
	}
	require.NoError(t, r.Err())
	require.Equal(t, []string{"1|1|a,b|p|x\ty|z", "2|2|c|q"}, rows)

	// Two left files with different headers cannot share names: an error
	// naming both, before any task runs.
	u2 := filepath.Join(dir, "l2.csv")
	require.NoError(t, os.WriteFile(u2, []byte("k,name\n3,d\n"), 0o644))
	_, err = join.Pipeline.Run(context.Background(), mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{u, u2, o}, Output: filepath.Join(t.TempDir(), "out"),
		TmpDir: t.TempDir(), OutputFormat: "parquet",
		Params: map[string]string{"left": "l*.csv", "right": "r.csv", "left-key": "k", "right-key": "k"},
	})
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "l.csv and "+u2+" are on the same side but have different columns (k, v, key; k, name)")
}

// TestBadParams checks that misconfiguration fails the job with an error
// that says what is wrong, rather than writing an empty or wrong join.
func TestBadParams(t *testing.T) {
	dir := t.TempDir()
	u, o, txt := filepath.Join(dir, "l.csv"), filepath.Join(dir, "r.csv"), filepath.Join(dir, "x.txt")
	require.NoError(t, os.WriteFile(u, []byte("k,v\n1,a\n"), 0o644))
	require.NoError(t, os.WriteFile(o, []byte("k,w\n1,b\n"), 0o644))
	require.NoError(t, os.WriteFile(txt, []byte("plain\n"), 0o644))
	base := map[string]string{"left": "l.csv", "right": "r.csv", "left-key": "k", "right-key": "k"}
	for _, tc := range []struct {
		name   string
		inputs []string
		set    map[string]string
		want   string
	}{
		{"neither", []string{u, o}, map[string]string{"right": "nope.csv"}, "matches neither"},
		{"both", []string{u, o}, map[string]string{"left": "*.csv", "right": "r*"}, "matches both"},
		{"type", []string{u, o}, map[string]string{"type": "outer"}, `--type "outer"`},
		{"key count", []string{u, o}, map[string]string{"left-key": "k,v"}, "--left-key has 2 columns"},
		{"glob", []string{u, o}, map[string]string{"left": "[", "right": "r.csv"}, "glob"},
		{"right columns", []string{u, o}, map[string]string{"right-columns": "x"}, "--right-columns"},
		{"text input", []string{u, txt}, map[string]string{"right": "x.txt"}, "no columns"},
		{"missing key column", []string{u, o}, map[string]string{"right-key": "userid"},
			`--right-key "userid": no such column in ` + o + ` (columns: k, w)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]string{}
			for k, v := range base {
				params[k] = v
			}
			for k, v := range tc.set {
				params[k] = v
			}
			_, err := join.Pipeline.Run(context.Background(), mapreduce.Config{
				Engine: mapreduce.EngineInline, Inputs: tc.inputs, Output: filepath.Join(t.TempDir(), "out"),
				TmpDir: t.TempDir(), Params: params,
			})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRowCodecRoundTrip(t *testing.T) {
	c := join.RowCodec{}
	for _, r := range []join.Row{
		{Side: join.SideLeft, Fields: []string{}},
		{Side: join.SideRight, Fields: []string{"", "a", "tab\there", strings.Repeat("x", 300), "\x00\xff"}},
	} {
		b := c.Append([]byte("prefix"), r)
		got, err := c.Decode(b[len("prefix"):])
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
}

// TestRowCodecCorrupt feeds every truncation and some garbage to Decode,
// which must return ErrCorrupt, never panic or succeed on a short row.
func TestRowCodecCorrupt(t *testing.T) {
	c := join.RowCodec{}
	b := c.Append(nil, join.Row{Side: join.SideRight, Fields: []string{"abc", "", "de"}})
	for i := range len(b) {
		_, err := c.Decode(b[:i])
		require.ErrorIs(t, err, join.ErrCorrupt, "truncated to %d bytes", i)
	}
	for _, bad := range [][]byte{
		{2, 0},                   // unknown side
		{0, 0x80},                // unterminated count
		{0, 5, 1, 'a'},           // count beyond the data
		{0, 1, 0xff, 0xff, 0xff}, // bad length
		append(slices.Clone(b), 'x'),
	} {
		_, err := c.Decode(bad)
		require.ErrorIs(t, err, join.ErrCorrupt, "%q", bad)
	}
}

func TestJoinedText(t *testing.T) {
	j := join.Joined{"a", "", "c d"}
	require.Equal(t, "a\t\tc d", j.String())
	var back join.Joined
	require.NoError(t, back.UnmarshalText([]byte(j.String())))
	require.Equal(t, j, back)
}

func BenchmarkRowCodec(b *testing.B) {
	c := join.RowCodec{}
	r := join.Row{Side: join.SideRight, Fields: []string{"12345", "Smith, J", "Oslo", "123.45", "a longer free text note"}}
	enc := c.Append(nil, r)
	b.Run("append", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			dst = c.Append(dst[:0], r)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJoin runs an inner join of two CSV files (2 MB in all) through
// the inline engine; MB/s is of input.
func BenchmarkJoin(b *testing.B) {
	users, orders := makeTables(5, 8000)
	dir := b.TempDir()
	u, o := filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")
	for path, tb := range map[string]table{u: users, o: orders} {
		var s strings.Builder
		w := csv.NewWriter(&s)
		if err := w.Write(tb.header); err != nil {
			b.Fatal(err)
		}
		if err := w.WriteAll(tb.rows); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var size int64
	for _, p := range []string{u, o} {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		_, err := join.Pipeline.Run(context.Background(), mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{u, o}, Output: filepath.Join(dir, fmt.Sprint("out", i)),
			TmpDir: dir, Reducers: 2,
			Params: map[string]string{"left": "users.csv", "right": "orders.csv", "left-key": "id", "right-key": "user_id"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
