package output

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

type point struct {
	Name  string  `json:"name"`
	X     int64   `json:"x"`
	Y     float64 `json:"y"`
	OK    bool
	Skip  string `json:"-"`
	Tags  []string
	Raw   []byte
	Count uint32 `json:"count,omitempty"`
}

type pair[K, V any] struct {
	k K
	v V
}

var allOptions = []Options{
	{Format: Text}, {Format: Text, Compression: Gzip}, {Format: Text, Compression: Zstd},
	{Format: JSONL}, {Format: JSONL, Compression: Gzip}, {Format: JSONL, Compression: Zstd},
	{Format: Parquet}, {Format: Arrow}, {Format: Arrow, Compression: Zstd},
}

func optName(o Options) string { return o.Format.String() + "-" + o.Compression.String() }

// roundTrip writes recs with opts, checks Records and Bytes, and returns
// what Open reads back.
func roundTrip[K, V any](t *testing.T, opts Options, recs []pair[K, V]) []pair[K, V] {
	t.Helper()
	path := filepath.Join(t.TempDir(), "part-00000"+opts.Ext())
	w, err := Create[K, V](path, opts)
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, w.Write(r.k, r.v))
	}
	require.Equal(t, int64(len(recs)), w.Records())
	require.NoError(t, w.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, st.Size(), w.Bytes(), "Bytes after Close is the file size")

	r, err := Open[K, V](path, opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Close()) }()
	var got []pair[K, V]
	for k, v, ok := r.Next(); ok; k, v, ok = r.Next() {
		got = append(got, pair[K, V]{k, v})
	}
	require.NoError(t, r.Err())
	return got
}

func checkRoundTrip[K, V any](t *testing.T, recs []pair[K, V], formats ...Format) {
	for _, opts := range allOptions {
		if len(formats) > 0 && !slices.Contains(formats, opts.Format) {
			continue
		}
		t.Run(optName(opts), func(t *testing.T) {
			got := roundTrip(t, opts, recs)
			require.Equal(t, len(recs), len(got))
			for i := range recs {
				require.Equal(t, recs[i], got[i], "record %d", i)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Run("string-int64", func(t *testing.T) {
		checkRoundTrip(t, []pair[string, int64]{{"a", 1}, {"tab\tin key", -7}, {"", 0}, {"ünïcode \"q\"", 1 << 62}})
	})
	t.Run("bytes-float64", func(t *testing.T) {
		checkRoundTrip(t, []pair[[]byte, float64]{{[]byte("x"), 0.5}, {[]byte{0, 1, 255}, -1e300}, {[]byte("y"), 3}})
	})
	t.Run("None-string", func(t *testing.T) {
		checkRoundTrip(t, []pair[struct{}, string]{{v: "line one"}, {v: "line\ttwo"}})
	})
	t.Run("int64-None", func(t *testing.T) {
		checkRoundTrip(t, []pair[int64, struct{}]{{k: 3}, {k: -4}})
	})
	t.Run("string-strings", func(t *testing.T) {
		checkRoundTrip(t, []pair[string, []string]{{"a", []string{"x", "y"}}, {"b", nil}, {"c", []string{}}},
			JSONL, Parquet, Arrow)
	})
	t.Run("int64-int64s", func(t *testing.T) {
		checkRoundTrip(t, []pair[int64, []int64]{{1, []int64{1, 2, 3}}, {2, []int64{-1}}})
	})
	t.Run("string-struct", func(t *testing.T) {
		checkRoundTrip(t, []pair[string, point]{
			{"p", point{Name: "n", X: 1, Y: 2.5, OK: true, Tags: []string{"t"}, Raw: []byte("r"), Count: 9}},
			{"q", point{Name: "m", X: -1}},
		})
	})
	t.Run("bool-time", func(t *testing.T) {
		ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
		checkRoundTrip(t, []pair[bool, time.Time]{{true, ts}, {false, ts.Add(time.Hour)}})
	})
	t.Run("uint32-float32", func(t *testing.T) {
		checkRoundTrip(t, []pair[uint32, float32]{{7, 1.25}, {1 << 31, -3}})
	})
	t.Run("map-fallback", func(t *testing.T) {
		checkRoundTrip(t, []pair[string, map[string]int]{{"a", map[string]int{"x": 1}}}, JSONL, Parquet, Arrow)
	})
}

// TestTextMatchesMapreduce pins the text format to what mapreduce's
// built-in writer produced for wordcount, byte for byte.
func TestTextMatchesMapreduce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "part-00000")
	w, err := Create[string, int64](path, Options{})
	require.NoError(t, err)
	for _, r := range []pair[string, int64]{{"the", 3}, {"quick", 1}, {"", 0}, {"neg", -2}} {
		require.NoError(t, w.Write(r.k, r.v))
	}
	require.NoError(t, w.Close())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "the\t3\nquick\t1\n\t0\nneg\t-2\n", string(got))

	path = filepath.Join(t.TempDir(), "part-00001")
	w2, err := Create[struct{}, float64](path, Options{})
	require.NoError(t, err)
	require.NoError(t, w2.Write(struct{}{}, 0.1))
	require.NoError(t, w2.Close())
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "0.1\n", string(got))
}

func TestJSONLText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	w, err := Create[string, point](path, Options{Format: JSONL, KeyName: "word"})
	require.NoError(t, err)
	require.NoError(t, w.Write("a\"<\n", point{Name: "n", X: 1, Y: 1e-7, Tags: []string{"t"}}))
	require.NoError(t, w.Close())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	// A struct value is flattened: its fields are members of the line.
	require.Equal(t, `{"word":"a\"<\n","name":"n","x":1,"y":1e-7,"OK":false,"Tags":["t"],"Raw":null}`+"\n", string(got))

	w2, err := Create[string, float64](filepath.Join(t.TempDir(), "nan.jsonl"), Options{Format: JSONL})
	require.NoError(t, err)
	defer w2.Abort()
	require.ErrorIs(t, w2.Write("x", float64NaN()), ErrNotJSON)
}

func float64NaN() float64 { var z float64; return z / z }

func TestParquetSchemaAndRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.parquet")
	w, err := Create[string, int64](path, Options{Format: Parquet})
	require.NoError(t, err)
	require.NoError(t, w.Write("a", 1))
	require.NoError(t, w.Write("b", 2))
	require.NoError(t, w.Close())

	tbl, err := pqarrow.ReadTable(context.Background(), mustOpen(t, path), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	require.Equal(t, "key", tbl.Schema().Field(0).Name)
	require.Equal(t, arrow.BinaryTypes.String, tbl.Schema().Field(0).Type)
	require.Equal(t, "value", tbl.Schema().Field(1).Name)
	require.Equal(t, arrow.PrimitiveTypes.Int64, tbl.Schema().Field(1).Type)
	require.Equal(t, int64(2), tbl.NumRows())
	keys := tbl.Column(0).Data().Chunk(0).(*array.String)
	vals := tbl.Column(1).Data().Chunk(0).(*array.Int64)
	require.Equal(t, []string{"a", "b"}, []string{keys.Value(0), keys.Value(1)})
	require.Equal(t, []int64{1, 2}, vals.Int64Values())

	pf, err := file.OpenParquetFile(path, false)
	require.NoError(t, err)
	defer pf.Close()
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
	require.NoError(t, err)
	require.Equal(t, "ZSTD", cc.Compression().String())
}

func TestParquetNestedSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.parquet")
	w, err := Create[[]string, point](path, Options{Format: Parquet, KeyName: "k", ValueName: "v"})
	require.NoError(t, err)
	require.NoError(t, w.Write([]string{"x"}, point{Name: "n"}))
	require.NoError(t, w.Close())
	tbl, err := pqarrow.ReadTable(context.Background(), mustOpen(t, path), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	require.Equal(t, arrow.LIST, tbl.Schema().Field(0).Type.ID())
	// A struct value is flattened: each field is a column of the file.
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"k", "name", "x", "y", "OK", "Tags", "Raw", "count"}, names)
}

// TestTextBytes: a []byte key declared text is a utf8 column and a JSON
// string, and bytes that are not UTF-8 come back unchanged from every
// format, through Open and through Cat.
func TestTextBytes(t *testing.T) {
	keys := [][]byte{[]byte("A"), []byte("caf\xe9"), []byte("ok \xf4\x8f\xbf\xbf end"), []byte("ünï")}
	for _, f := range []Format{JSONL, Parquet, Arrow} {
		t.Run(f.String(), func(t *testing.T) {
			opts := Options{Format: f, KeyName: "word", ValueName: "count", TextBytes: true}
			path := filepath.Join(t.TempDir(), "part"+opts.Ext())
			w, err := Create[[]byte, int64](path, opts)
			require.NoError(t, err)
			for i, k := range keys {
				require.NoError(t, w.Write(k, int64(i)))
			}
			require.NoError(t, w.Close())

			r, err := Open[[]byte, int64](path, opts)
			require.NoError(t, err)
			var got [][]byte
			for k, _, ok := r.Next(); ok; k, _, ok = r.Next() {
				got = append(got, k)
			}
			require.NoError(t, r.Err())
			require.NoError(t, r.Close())
			require.Equal(t, keys, got)

			var cat bytes.Buffer
			require.NoError(t, Cat(&cat, path))
			var want bytes.Buffer
			for i, k := range keys {
				fmt.Fprintf(&want, "%s\t%d\n", k, i)
			}
			require.Equal(t, want.String(), cat.String())

			switch f {
			case JSONL:
				raw, err := os.ReadFile(path)
				require.NoError(t, err)
				first, _, _ := bytes.Cut(raw, []byte("\n"))
				require.Equal(t, `{"word":"A","count":0}`, string(first))
				for line := range bytes.Lines(raw) {
					var m map[string]any
					require.NoError(t, json.Unmarshal(line, &m))
					require.IsType(t, "", m["word"], "a JSON string, not base64")
				}
			case Parquet:
				tbl, err := pqarrow.ReadTable(context.Background(), mustOpen(t, path), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				require.NoError(t, err)
				defer tbl.Release()
				require.Equal(t, arrow.BinaryTypes.String, tbl.Schema().Field(0).Type)
				col := tbl.Column(0).Data().Chunk(0).(*array.String)
				for i := range col.Len() {
					require.True(t, utf8.ValidString(col.Value(i)), "row %d: %q", i, col.Value(i))
				}
				require.Equal(t, "A", col.Value(0))
			}
		})
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestArrowSchemaAndRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.arrow")
	w, err := Create[string, int64](path, Options{Format: Arrow, Compression: Zstd})
	require.NoError(t, err)
	n := batchRows + 10 // two batches
	for i := range n {
		require.NoError(t, w.Write(fmt.Sprint(i), int64(i)))
	}
	require.NoError(t, w.Close())

	fr, err := ipc.NewFileReader(mustOpen(t, path))
	require.NoError(t, err)
	defer fr.Close()
	require.Equal(t, arrow.BinaryTypes.String, fr.Schema().Field(0).Type)
	require.Equal(t, arrow.PrimitiveTypes.Int64, fr.Schema().Field(1).Type)
	require.Equal(t, 2, fr.NumRecords())
	total := 0
	for i := range fr.NumRecords() {
		rec, err := fr.RecordBatch(i)
		require.NoError(t, err)
		vals := rec.Column(1).(*array.Int64)
		for j := range vals.Len() {
			require.Equal(t, int64(total), vals.Value(j))
			total++
		}
	}
	require.Equal(t, n, total)
}

func TestCompressedTextDecompresses(t *testing.T) {
	recs := []pair[string, int64]{{"a", 1}, {"b", 2}}
	plain := "a\t1\nb\t2\n"
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part-00000"+Options{Compression: c}.Ext())
			w, err := Create[string, int64](path, Options{Compression: c})
			require.NoError(t, err)
			for _, r := range recs {
				require.NoError(t, w.Write(r.k, r.v))
			}
			require.NoError(t, w.Close())
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotEqual(t, plain, string(raw))
			var got []byte
			if c == Gzip {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				require.NoError(t, err)
				got, err = io.ReadAll(zr)
				require.NoError(t, err)
			} else {
				zr, err := zstd.NewReader(nil)
				require.NoError(t, err)
				got, err = zr.DecodeAll(raw, nil)
				zr.Close()
				require.NoError(t, err)
			}
			require.Equal(t, plain, string(got))
		})
	}
}

func TestCat(t *testing.T) {
	for _, opts := range allOptions {
		t.Run(optName(opts), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part-00003"+opts.Ext())
			w, err := Create[string, int64](path, opts)
			require.NoError(t, err)
			require.NoError(t, w.Write("a b", 1))
			require.NoError(t, w.Write("c", -2))
			require.NoError(t, w.Close())
			var out bytes.Buffer
			require.NoError(t, Cat(&out, path))
			require.Equal(t, "a b\t1\nc\t-2\n", out.String())
		})
	}
	t.Run("nested", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.parquet")
		w, err := Create[[]byte, []int64](path, Options{Format: Parquet})
		require.NoError(t, err)
		require.NoError(t, w.Write([]byte("k"), []int64{1, 2}))
		require.NoError(t, w.Close())
		var out bytes.Buffer
		require.NoError(t, Cat(&out, path))
		require.Equal(t, "k\t[1,2]\n", out.String())
	})
	t.Run("missing", func(t *testing.T) {
		require.Error(t, Cat(io.Discard, filepath.Join(t.TempDir(), "nope")))
	})
}

func TestMerge(t *testing.T) {
	for _, opts := range allOptions {
		t.Run(optName(opts), func(t *testing.T) {
			dir := t.TempDir()
			var want []pair[string, int64]
			var parts []string
			for p := range 4 {
				var recs []pair[string, int64]
				for i := range 5 + p*3 {
					recs = append(recs, pair[string, int64]{fmt.Sprintf("k%03d", (i*7+p*3)%40), int64(p*100 + i)})
				}
				recs = append(recs, pair[string, int64]{"k005", int64(p)}) // equal keys across parts
				slices.SortStableFunc(recs, func(a, b pair[string, int64]) int { return strings.Compare(a.k, b.k) })
				want = append(want, recs...)
				path := filepath.Join(dir, fmt.Sprintf("part-%05d%s", p, opts.Ext()))
				w, err := Create[string, int64](path, opts)
				require.NoError(t, err)
				for _, r := range recs {
					require.NoError(t, w.Write(r.k, r.v))
				}
				require.NoError(t, w.Close())
				parts = append(parts, path)
			}
			// Empty part: merging must cope with an input that has no head.
			empty := filepath.Join(dir, "part-empty"+opts.Ext())
			w, err := Create[string, int64](empty, opts)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			parts = append(parts, empty)

			slices.SortStableFunc(want, func(a, b pair[string, int64]) int { return strings.Compare(a.k, b.k) })
			dst := filepath.Join(dir, "merged"+opts.Ext())
			require.NoError(t, Merge[string, int64](dst, parts, opts, strings.Compare))

			r, err := Open[string, int64](dst, opts)
			require.NoError(t, err)
			defer r.Close()
			var got []pair[string, int64]
			for k, v, ok := r.Next(); ok; k, v, ok = r.Next() {
				got = append(got, pair[string, int64]{k, v})
			}
			require.NoError(t, r.Err())
			require.Equal(t, want, got)
		})
	}
}

func TestMergeUnsorted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "part-00000")
	w, err := Create[int64, int64](path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Write(2, 0))
	require.NoError(t, w.Write(1, 0))
	require.NoError(t, w.Close())
	dst := filepath.Join(dir, "merged")
	require.ErrorIs(t, Merge[int64, int64](dst, []string{path}, Options{}, cmp.Compare[int64]), ErrUnsorted)
	_, err = os.Stat(dst)
	require.ErrorIs(t, err, os.ErrNotExist, "a failed merge leaves no output")
}

func TestAbortRemovesFile(t *testing.T) {
	for _, opts := range allOptions {
		t.Run(optName(opts), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part"+opts.Ext())
			w, err := Create[string, int64](path, opts)
			require.NoError(t, err)
			require.NoError(t, w.Write("a", 1))
			w.Abort()
			_, err = os.Stat(path)
			require.ErrorIs(t, err, os.ErrNotExist)
			w.Abort() // twice is harmless
		})
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]Format{"text": Text, "JSONL": JSONL, "parquet": Parquet, "arrow": Arrow} {
		f, err := ParseFormat(s)
		require.NoError(t, err)
		require.Equal(t, want, f)
	}
	_, err := ParseFormat("csv")
	require.ErrorIs(t, err, ErrUnknownFormat)
	for s, want := range map[string]Compression{"": None, "none": None, "gz": Gzip, "gzip": Gzip, "zst": Zstd, "zstd": Zstd} {
		c, err := ParseCompression(s)
		require.NoError(t, err)
		require.Equal(t, want, c)
	}
	_, err = ParseCompression("lzma")
	require.ErrorIs(t, err, ErrUnknownFormat)

	exts := []struct {
		o    Options
		want string
	}{
		{Options{}, ""}, {Options{Compression: Gzip}, ".gz"}, {Options{Compression: Zstd}, ".zst"},
		{Options{Format: JSONL}, ".jsonl"}, {Options{Format: JSONL, Compression: Gzip}, ".jsonl.gz"},
		{Options{Format: Parquet}, ".parquet"}, {Options{Format: Arrow}, ".arrow"},
	}
	for _, e := range exts {
		require.Equal(t, e.want, e.o.Ext(), "%+v", e.o)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Create[string, int64](filepath.Join(dir, "no", "such", "dir"), Options{})
	require.Error(t, err)
	_, err = Create[struct{}, struct{}](filepath.Join(dir, "x.parquet"), Options{Format: Parquet})
	require.Error(t, err)
	_, err = Create[string, int64](filepath.Join(dir, "x.arrow"), Options{Format: Arrow, Compression: Gzip})
	require.ErrorIs(t, err, ErrUnknownFormat)
	_, err = Create[string, int64](filepath.Join(dir, "x"), Options{Format: 9})
	require.ErrorIs(t, err, ErrUnknownFormat)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "failed Creates leave no files")
}

type stringer int

func (s stringer) String() string { return fmt.Sprintf("<%d>", int(s)) }

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "part-00000")
	w, err := Create[stringer, int64](path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Write(3, 1))
	require.NoError(t, w.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "<3>\t1\n", string(b))
	_, err = Open[stringer, int64](path, Options{})
	require.ErrorIs(t, err, ErrNotParsable)

	// A value that does not parse names the file and line.
	r, err := Open[string, string](path, Options{})
	require.NoError(t, err)
	_, _, ok := r.Next()
	require.True(t, ok)
	require.NoError(t, r.Close())
	r2, err := Open[int64, int64](path, Options{})
	require.NoError(t, err)
	_, _, ok = r2.Next()
	require.False(t, ok)
	require.ErrorContains(t, r2.Err(), path+", line 1, key")
	require.NoError(t, r2.Close())

	// Wrong column type in a columnar file.
	pq := filepath.Join(dir, "p.parquet")
	w3, err := Create[string, int64](pq, Options{Format: Parquet})
	require.NoError(t, err)
	require.NoError(t, w3.Write("a", 1))
	require.NoError(t, w3.Close())
	r3, err := Open[string, string](pq, Options{Format: Parquet})
	require.NoError(t, err)
	_, _, ok = r3.Next()
	require.False(t, ok)
	require.ErrorContains(t, r3.Err(), "cannot be read as Go string")
	require.NoError(t, r3.Close())
	_, err = Open[string, int64](pq, Options{Format: Parquet, ValueName: "count"})
	require.ErrorContains(t, err, `no column "count"`)
}

// TestStructFieldOrder guards the mapping of struct fields to columns by
// position: a struct read back must match field by field.
func TestStructFieldOrder(t *testing.T) {
	e, ok := structEncFor(reflect.TypeFor[point]())
	require.True(t, ok)
	require.Len(t, e.fields, 7)
	_, ok = structEncFor(reflect.TypeFor[struct{ x int }]())
	require.False(t, ok, "a struct without exported fields falls back to JSON")
}

// TestTextWriterLines checks the text writer's output for []byte keys
// without values, the sort's output, which it formats straight into the
// file buffer: every line as written, including lines longer than the
// buffer's free space, with the caller overwriting its buffer after every
// Write, plain and gzipped; and a write error that names the record.
func TestTextWriterLines(t *testing.T) {
	for _, opts := range []Options{{}, {Compression: Gzip}} {
		t.Run(optName(opts), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "part"+opts.Ext())
			w, err := Create[[]byte, struct{}](path, opts)
			require.NoError(t, err)
			var want, buf []byte
			for i := range 1000 {
				buf = fmt.Appendf(buf[:0], "%010d  line\twith tab \r", i*7919%1000)
				switch {
				case i%10 == 0:
					buf = buf[:0] // empty lines too
				case i%97 == 0:
					buf = append(buf, bytes.Repeat([]byte("x"), bufferSize)...) // beyond the free space
				}
				want = append(append(want, buf...), '\n')
				require.NoError(t, w.Write(buf, struct{}{}))
				clear(buf) // the writer must have copied
			}
			require.Equal(t, int64(1000), w.Records())
			require.NoError(t, w.Close())
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			if opts.Compression == Gzip {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				require.NoError(t, err)
				got, err = io.ReadAll(zr)
				require.NoError(t, err)
			} else {
				require.Equal(t, int64(len(want)), w.Bytes())
			}
			require.Equal(t, want, got)
		})
	}

	t.Run("error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "part")
		w, err := Create[[]byte, struct{}](path, Options{})
		require.NoError(t, err)
		defer w.Abort()
		require.NoError(t, w.(*textWriter[[]byte, struct{}]).s.f.Close())
		rec := bytes.Repeat([]byte("x"), 99)
		var werr error
		for i := 0; werr == nil && i < 2*bufferSize/len(rec); i++ {
			werr = w.Write(rec, struct{}{})
		}
		require.ErrorContains(t, werr, "record ")
		require.ErrorIs(t, werr, os.ErrClosed)
		require.Equal(t, werr, w.Write(rec, struct{}{}), "errors are sticky")
		require.Equal(t, werr, w.Close())
	})
}

// BenchmarkWriteLines writes 100-byte gensort records, the sort's output,
// through the text writer. The file is /dev/null, so that the kernel's cost
// of writing does not drown the writer's own.
func BenchmarkWriteLines(b *testing.B) {
	rec := append(bytes.Repeat([]byte("k"), 98), '\r')
	s, err := createSink(filepath.Join(b.TempDir(), "part"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.f.Close()
	if s.f, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
		b.Fatal(err)
	}
	w := newTextWriter[[]byte, struct{}](s)
	defer w.Abort()
	b.SetBytes(int64(len(rec) + 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(rec, struct{}{}); err != nil {
			b.Fatal(err)
		}
	}
}
