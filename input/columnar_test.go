package input

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "raw", Type: arrow.BinaryTypes.Binary},
	{Name: "small", Type: arrow.PrimitiveTypes.Int32},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
}, nil)

var testColumns = []string{"id", "score", "name", "ok", "at", "day", "raw", "small", "dec"}

var testBase = time.Date(2024, 2, 27, 10, 30, 0, 123456000, time.UTC)

// buildBatch returns rows [from, to) of the test table.
func buildBatch(from, to int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%5 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(float64(i) * -1.25)
		}
		if i%7 == 3 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("n\"%d\té", i))
		}
		b.Field(3).(*array.BooleanBuilder).Append(i%2 == 0)
		if i%4 == 1 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(testBase.Add(time.Duration(i) * time.Second).UnixMicro()))
		}
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(testBase.AddDate(0, 0, i)))
		b.Field(6).(*array.BinaryBuilder).Append([]byte{0xff, 'b', byte('a' + i%26)})
		b.Field(7).(*array.Int32Builder).Append(int32(-i))
		b.Field(8).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*125 + 7)))
	}
	return b.NewRecordBatch()
}

// wantRow is row i of the test table as a Record should give it, written
// without the renderer's code.
func wantRow(i int) row {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	f := make([]string, 9)
	j := make([]string, 9)
	f[0] = strconv.Itoa(i)
	j[0] = f[0]
	if i%5 == 0 {
		j[1] = "null"
	} else {
		f[1] = strconv.FormatFloat(float64(i)*-1.25, 'g', -1, 64)
		j[1] = f[1]
	}
	if i%7 == 3 {
		j[2] = "null"
	} else {
		f[2] = fmt.Sprintf("n\"%d\té", i)
		j[2] = q(f[2])
	}
	f[3] = strconv.FormatBool(i%2 == 0)
	j[3] = f[3]
	if i%4 == 1 {
		j[4] = "null"
	} else {
		f[4] = testBase.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		j[4] = q(f[4])
	}
	f[5] = testBase.AddDate(0, 0, i).Format("2006-01-02")
	j[5] = q(f[5])
	f[6] = string([]byte{0xff, 'b', byte('a' + i%26)})
	j[6] = q(f[6])
	f[7] = strconv.Itoa(-i)
	j[7] = f[7]
	f[8] = fmt.Sprintf("%d.%02d", (i*125+7)/100, (i*125+7)%100)
	j[8] = f[8]
	var v strings.Builder
	for k, c := range testColumns {
		if k == 0 {
			v.WriteByte('{')
		} else {
			v.WriteByte(',')
		}
		v.WriteString(q(c) + ":" + j[k])
	}
	v.WriteByte('}')
	return row{off: int64(i), value: v.String(), fields: f, columns: testColumns}
}

func wantRows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = wantRow(i)
	}
	return out
}

// writeParquet writes rows [0, n) in row groups of groupRows rows.
func writeParquet(t testing.TB, path string, n, groupRows int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(testSchema, f,
		parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(int64(groupRows))),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	for from := 0; from < n; from += groupRows {
		rec := buildBatch(from, min(n, from+groupRows))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetSplits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	const n = 95
	writeParquet(t, path, n, 10)
	want := wantRows(n)
	for _, r := range want {
		if !json.Valid([]byte(r.value)) {
			t.Fatalf("reference row is not JSON: %s", r.value)
		}
	}
	for _, size := range []int64{1, 900, 3000, 1 << 30} {
		got, splits := readPlan(t, path, size)
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
		for _, s := range splits {
			if s.Unit != RowGroups || !strings.Contains(s.String(), ":row groups [") {
				t.Fatalf("split %v (unit %v)", s, s.Unit)
			}
		}
		switch size {
		case 1:
			if len(splits) != 10 {
				t.Fatalf("split size 1: %d splits, want one per row group", len(splits))
			}
		case 1 << 30:
			if len(splits) != 1 {
				t.Fatalf("huge split size: %d splits", len(splits))
			}
		}
		t.Logf("split size %d: %d splits", size, len(splits))
	}
}

func TestParquetBytesRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	writeParquet(t, path, 40, 10)
	_, splits := readPlan(t, path, 1)
	_, n, err := readSplit(t, splits[2])
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Fatalf("BytesRead %d after a whole row group", n)
	}
}

// A truncated or damaged Parquet file gives an error naming the file,
// from Plan or from the reader, never a panic.
func TestParquetCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeParquet(t, good, 50, 10)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(data)
	for i := 4; i < len(damaged)/2; i++ {
		damaged[i] = byte(i * 31)
	}
	for name, bad := range map[string][]byte{
		"truncated.parquet":    data[:len(data)/2],
		"no-footer.parquet":    data[:len(data)-3],
		"tiny.parquet":         data[:3],
		"damaged.parquet":      damaged,
		"not-parquet.parquet":  []byte("hello, world, this is text\n"),
		"footer-only.parquet":  data[len(data)-200:],
		"garbage-tail.parquet": append(bytes.Clone(data[:len(data)-8]), 1, 0, 0, 0, 'P', 'A', 'R', '1'),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := Expand([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		splits, err := Plan(files, 1)
		if err == nil {
			for _, s := range splits {
				if _, _, err = readSplit(t, s); err != nil {
					break
				}
			}
		}
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func TestParquetCompressedRefused(t *testing.T) {
	_, err := Plan([]File{{Path: "x.parquet.gz", Size: 10, Compression: Gzip, Format: Parquet}}, 100)
	if err == nil || !strings.Contains(err.Error(), "x.parquet.gz") {
		t.Fatalf("error %v", err)
	}
}

// writeArrow writes the test table as batches of the given sizes, as an
// IPC file or stream.
func writeArrow(t testing.TB, path string, sizes []int, stream bool) int {
	t.Helper()
	var buf bytes.Buffer
	type writer interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var w writer
	if stream {
		w = ipc.NewWriter(&buf, ipc.WithSchema(testSchema))
	} else {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(testSchema))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	n := 0
	for _, size := range sizes {
		rec := buildBatch(n, n+size)
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		n += size
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if strings.HasSuffix(path, ".zst") {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		data = enc.EncodeAll(data, nil)
		enc.Close()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestArrowFileSplits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.arrow")
	sizes := []int{13, 1, 0, 20, 7, 13, 30}
	n := writeArrow(t, path, sizes, false)
	want := wantRows(n)
	for _, size := range []int64{1, 2000, 5000, 1 << 30} {
		got, splits := readPlan(t, path, size)
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
		for _, s := range splits {
			if s.Unit != Batches || !strings.Contains(s.String(), ":batches [") {
				t.Fatalf("split %v", s)
			}
		}
		if size == 1 && len(splits) != len(sizes) {
			t.Fatalf("split size 1: %d splits, want one per batch", len(splits))
		}
	}
}

// Streams, and compressed files, are one split each, read as streams.
func TestArrowStreams(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		stream bool
	}{
		{"s.arrow", true}, {"s.arrow.zst", true}, {"f.arrow.zst", false},
	} {
		path := filepath.Join(dir, tc.name)
		n := writeArrow(t, path, []int{5, 9, 4}, tc.stream)
		got, splits := readPlan(t, path, 1)
		if len(splits) != 1 || splits[0].Unit != Bytes {
			t.Fatalf("%s: splits %v", tc.name, splits)
		}
		checkRows(t, tc.name, got, wantRows(n))
	}
}

func TestColumnarBadSplit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	writeParquet(t, path, 20, 10)
	fi, _ := os.Stat(path)
	f := File{Path: path, Size: fi.Size(), Format: Parquet}
	for _, s := range []Split{
		{File: f, Start: 0, End: 3, Unit: RowGroups}, // past the last row group
		{File: f, Start: 0, End: 1, Unit: Bytes},     // not planned by Plan
		{File: f, Start: 2, End: 1, Unit: RowGroups},
	} {
		if _, err := OpenRecords(s); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("split %v: error %v", s, err)
		}
	}
	if _, err := Open(Split{File: f, Start: 0, End: 1, Unit: RowGroups}); err == nil {
		t.Error("LineReader accepted a row-group split")
	}
}

func TestAppendDecimal128(t *testing.T) {
	for _, tc := range []struct {
		v     decimal128.Num
		scale int32
	}{
		{decimal128.FromI64(0), 2}, {decimal128.FromI64(7), 2}, {decimal128.FromI64(-7), 3},
		{decimal128.FromI64(12345), 2}, {decimal128.FromI64(-12345), 0}, {decimal128.FromI64(math.MinInt64), 4},
		{decimal128.FromI64(math.MaxInt64), 18}, {decimal128.New(5, 1), 2}, {decimal128.FromI64(-1), 20},
	} {
		want := tc.v.ToString(tc.scale)
		if got := string(appendDecimal128(nil, tc.v, tc.scale)); got != want {
			t.Errorf("appendDecimal128(%v, %d) = %q, want %q", tc.v, tc.scale, got, want)
		}
	}
}

// TestColumns checks that Columns names a file's columns as its records'
// Columns would, without a record: for empty Parquet and Arrow files too.
func TestColumns(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for _, f := range testSchema.Fields() {
		want = append(want, f.Name)
	}
	writeParquet(t, filepath.Join(dir, "t.parquet"), 0, 10)
	writeArrow(t, filepath.Join(dir, "t.arrow"), nil, false)
	must(t, os.WriteFile(filepath.Join(dir, "h.csv"), []byte("\xef\xbb\xbfa,\"b,c\"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "h.tsv"), []byte("a\tb,c\n1\t2\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "h.txt"), []byte("a,b\n"), 0o644))
	files, err := Expand([]string{dir})
	must(t, err)
	stream := filepath.Join(t.TempDir(), "s.zst")
	writeArrow(t, stream, []int{3}, true)
	files = append(files, File{Path: stream, Format: Arrow, Compression: Zstd})
	got := map[string][]string{}
	for _, f := range files {
		cols, err := Columns(f)
		must(t, err)
		got[filepath.Base(f.Path)] = cols
	}
	wantAll := map[string][]string{"t.parquet": want, "t.arrow": want, "s.zst": want,
		"h.csv": {"a", "b,c"}, "h.tsv": {"a", "b,c"}, "h.txt": nil}
	if !reflect.DeepEqual(got, wantAll) {
		t.Fatalf("got %q\nwant %q", got, wantAll)
	}
}

// TestArrowBatchRowsCorrupt reads the batch row counts of an Arrow file,
// then of the file with each of its bytes overwritten in turn: the parser
// of the footer and batch headers (arrowfooter.go) reads metadata that a
// corrupt file makes point anywhere, and must return an error or some
// counts, never index out of its buffers.
func TestArrowBatchRowsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.arrow")
	sizes := []int{2, 0, 5}
	writeArrow(t, path, sizes, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := arrowBatchRows(bytes.NewReader(data), int64(len(data)), -1)
	if err != nil || !slices.Equal(rows, []int64{2, 0, 5}) {
		t.Fatalf("batch rows %v, %v; want [2 0 5]", rows, err)
	}
	bad := make([]byte, len(data))
	for i := range data {
		for _, b := range []byte{0x00, 0xFF, 0x7F, data[i] ^ 0x80} {
			copy(bad, data)
			bad[i] = b
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("byte %d of %d set to %#x: %v", i, len(data), b, r)
					}
				}()
				arrowBatchRows(bytes.NewReader(bad), int64(len(bad)), -1)
			}()
		}
	}
	copy(bad, data)
	binary.LittleEndian.PutUint32(bad[len(bad)-10:], uint32(len(bad)))
	if _, err := arrowBatchRows(bytes.NewReader(bad), int64(len(bad)), -1); !errors.Is(err, errArrowMeta) {
		t.Errorf("footer length past the file's start: %v, want %v", err, errArrowMeta)
	}
}
