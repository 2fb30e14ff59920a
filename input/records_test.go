package input

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// row is a record copied out of a reader.
type row struct {
	off     int64
	value   string
	fields  []string
	columns []string
}

func (r row) String() string {
	return fmt.Sprintf("@%d %q %q", r.off, r.value, r.fields)
}

// copyRecord copies rec, whose slices the reader reuses.
func copyRecord(rec *Record) row {
	r := row{off: rec.Offset, value: string(rec.Value), columns: rec.Columns}
	if rec.Fields != nil {
		r.fields = make([]string, len(rec.Fields))
		for i, f := range rec.Fields {
			r.fields[i] = string(f)
		}
	}
	return r
}

// readSplit drains one split through OpenRecords.
func readSplit(t *testing.T, s Split) ([]row, int64, error) {
	t.Helper()
	rr, err := OpenRecords(s)
	if err != nil {
		return nil, 0, err
	}
	var out []row
	for rec, ok := rr.Next(); ok; rec, ok = rr.Next() {
		out = append(out, copyRecord(rec))
	}
	err = rr.Err()
	if cerr := rr.Close(); cerr != nil {
		t.Fatalf("Close %v: %v", s, cerr)
	}
	return out, rr.BytesRead(), err
}

// readPlan plans path at splitSize and reads every split in order,
// checking that no split fails and that each split's records carry the
// same columns.
func readPlan(t *testing.T, path string, splitSize int64) ([]row, []Split) {
	t.Helper()
	files, err := Expand([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := Plan(files, splitSize)
	if err != nil {
		t.Fatal(err)
	}
	var all []row
	for _, s := range splits {
		rows, _, err := readSplit(t, s)
		if err != nil {
			t.Fatalf("split size %d: %v", splitSize, err)
		}
		all = append(all, rows...)
	}
	return all, splits
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkRows(t *testing.T, what string, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d:\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.off != w.off || g.value != w.value || !slices.Equal(g.fields, w.fields) || !slices.Equal(g.columns, w.columns) {
			t.Fatalf("%s: record %d:\n got %v cols %q\nwant %v cols %q", what, i, g, g.columns, w, w.columns)
		}
	}
}

// csvData has quotes, escaped quotes, separators inside quotes, empty
// fields (quoted and not), a CRLF line, a blank line, a bare quote inside
// an unquoted field, and no final newline.
const csvData = "\xef\xbb\xbfname,qty,note\n" +
	"apple,3,\"red, round\"\n" +
	"\"pear\",,\"say \"\"hi\"\"\"\r\n" +
	"\n" +
	",,\n" +
	"5\"disk,\"\",x\n" +
	"\"a\"\"b\",1,\"\""

func csvWant() []row {
	cols := []string{"name", "qty", "note"}
	return []row{
		{off: 17, value: "apple,3,\"red, round\"", fields: []string{"apple", "3", "red, round"}, columns: cols},
		{off: 38, value: "\"pear\",,\"say \"\"hi\"\"\"", fields: []string{"pear", "", "say \"hi\""}, columns: cols},
		{off: 61, value: ",,", fields: []string{"", "", ""}, columns: cols},
		{off: 64, value: "5\"disk,\"\",x", fields: []string{"5\"disk", "", "x"}, columns: cols},
		{off: 76, value: "\"a\"\"b\",1,\"\"", fields: []string{"a\"b", "1", ""}, columns: cols},
	}
}

func TestCSVSplits(t *testing.T) {
	path := writeFile(t, "data.csv", []byte(csvData))
	want := csvWant()
	for size := int64(1); size <= int64(len(csvData))+1; size++ {
		got, splits := readPlan(t, path, size)
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
		if size == 1 && len(splits) != len(csvData) {
			t.Fatalf("%d splits of 1 byte for %d bytes", len(splits), len(csvData))
		}
	}
}

func TestCSVBytesRead(t *testing.T) {
	path := writeFile(t, "data.csv", []byte(csvData))
	files, err := Expand([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := Plan(files, 7)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range splits {
		_, n, err := readSplit(t, s)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != int64(len(csvData)) {
		t.Fatalf("BytesRead sums to %d, want the file size %d", total, len(csvData))
	}
}

// The header comes from the file's first line in every split, including
// splits that start far from it.
func TestCSVHeaderEverySplit(t *testing.T) {
	var b strings.Builder
	b.WriteString("k,v\n")
	for i := range 200 {
		fmt.Fprintf(&b, "key%d,%d\n", i, i*i)
	}
	path := writeFile(t, "h.csv", []byte(b.String()))
	_, splits := readPlan(t, path, 64)
	if len(splits) < 10 {
		t.Fatalf("only %d splits", len(splits))
	}
	n := 0
	for _, s := range splits {
		rows, _, err := readSplit(t, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if !slices.Equal(r.columns, []string{"k", "v"}) {
				t.Fatalf("split %v: columns %q", s, r.columns)
			}
			if want := fmt.Sprintf("key%d", n); r.fields[0] != want || r.fields[1] != fmt.Sprint(n*n) {
				t.Fatalf("split %v: record %d is %v", s, n, r)
			}
			n++
		}
	}
	if n != 200 {
		t.Fatalf("%d records, want 200", n)
	}
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		size       int64
		want       string // in the error, after the file name
	}{
		{"ragged", "a,b\n1,2\n3\n4,5\n", 100, "offset 8 has 1 fields, the header has 2"},
		{"ragged tsv.tsv", "a\tb\n1\t2\t3\n", 100, "offset 4 has 3 fields"},
		{"after quote", "a,b\n\"x\"y,2\n", 100, "offset 4: 'y' after the closing quote"},
		{"unterminated", "a,b\n1,\"open\n2\",3\n", 8, "offset 4: quoted field not closed by the end of the line"},
		{"unterminated at eof", "a,b\n1,\"open\n", 100, "offset 4: quoted field not closed by the end of the file"},
		{"header only quote", "a,\"b\n", 100, "header line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name
			if !strings.Contains(name, ".") {
				name += ".csv"
			}
			path := writeFile(t, name, []byte(tc.data))
			files, err := Expand([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			splits, err := Plan(files, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			var errs []error
			for _, s := range splits {
				if _, _, err := readSplit(t, s); err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			err = errs[0]
			if !errors.Is(err, ErrCSV) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrCSV naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

// A quoted field holding a newline is read when the split is the whole
// file: a compressed file, or a split size of at least the file's size.
func TestCSVMultilineWholeFile(t *testing.T) {
	data := "a,b\n1,\"two\r\nlines\"\n3,\"x\n\ny\"\n"
	cols := []string{"a", "b"}
	want := []row{
		{off: 4, value: "1,\"two\nlines\"", fields: []string{"1", "two\nlines"}, columns: cols},
		{off: 19, value: "3,\"x\n\ny\"", fields: []string{"3", "x\n\ny"}, columns: cols},
	}
	path := writeFile(t, "m.csv", []byte(data))
	got, _ := readPlan(t, path, int64(len(data)))
	checkRows(t, "plain", got, want)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(data))
	zw.Close()
	gzPath := writeFile(t, "m.csv.gz", gz.Bytes())
	got, splits := readPlan(t, gzPath, 3)
	if len(splits) != 1 {
		t.Fatalf("%d splits for a gzip file", len(splits))
	}
	checkRows(t, "gzip", got, want)
}

func TestCSVGzip(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(csvData))
	zw.Close()
	path := writeFile(t, "data.csv.gz", gz.Bytes())
	got, splits := readPlan(t, path, 4)
	if len(splits) != 1 || splits[0].File.Format != CSV {
		t.Fatalf("splits %v", splits)
	}
	checkRows(t, "gzip", got, csvWant())
}

func TestTSVSplits(t *testing.T) {
	data := "id\tname\tquote\n1\tann\t\"as is\"\n\n2\t\t\r\n3\tc,d\tz\n"
	cols := []string{"id", "name", "quote"}
	want := []row{
		{off: 14, value: "1\tann\t\"as is\"", fields: []string{"1", "ann", "\"as is\""}, columns: cols},
		{off: 29, value: "2\t\t", fields: []string{"2", "", ""}, columns: cols},
		{off: 34, value: "3\tc,d\tz", fields: []string{"3", "c,d", "z"}, columns: cols},
	}
	path := writeFile(t, "data.tab", []byte(data))
	for size := int64(1); size <= int64(len(data)); size++ {
		got, _ := readPlan(t, path, size)
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
	}
}

func TestJSONLSplits(t *testing.T) {
	data := "{\"a\":1}\n[2, 3]\r\n\n\"s\"\nnot json at all"
	want := []row{
		{off: 0, value: "{\"a\":1}"},
		{off: 8, value: "[2, 3]"},
		{off: 16, value: ""},
		{off: 17, value: "\"s\""},
		{off: 21, value: "not json at all"},
	}
	path := writeFile(t, "data.ndjson", []byte(data))
	for size := int64(1); size <= int64(len(data)); size++ {
		got, splits := readPlan(t, path, size)
		if splits[0].File.Format != JSONL {
			t.Fatalf("format %v", splits[0].File.Format)
		}
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
	}
}

// TestJSONLByteOrderMark: a UTF-8 byte order mark before a JSON-lines
// file's first line (PowerShell's Out-File writes one) is not part of the
// record, whose JSON then parses, at any split size and through gzip; a
// text file's first line keeps it, its bytes being the record.
func TestJSONLByteOrderMark(t *testing.T) {
	data := "\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n"
	want := []row{{off: 0, value: "{\"a\":1}"}, {off: 11, value: "{\"a\":2}"}}
	path := writeFile(t, "data.jsonl", []byte(data))
	for size := int64(1); size <= int64(len(data)); size++ {
		got, _ := readPlan(t, path, size)
		checkRows(t, fmt.Sprintf("split size %d", size), got, want)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(data))
	zw.Close()
	got, _ := readPlan(t, writeFile(t, "data.jsonl.gz", gz.Bytes()), 1<<20)
	checkRows(t, "gzip", got, want)

	got, _ = readPlan(t, writeFile(t, "data.txt", []byte(data)), 1<<20)
	checkRows(t, "text", got, []row{{off: 0, value: data[:10]}, {off: 11, value: "{\"a\":2}"}})
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Format
	}{
		{"a.csv", CSV}, {"dir/A.CSV", CSV}, {"a.csv.gz", CSV}, {"a.csv.zst", CSV}, {"a.csv.zstd", CSV},
		{"a.tsv", TSV}, {"a.tab.gz", TSV},
		{"a.jsonl", JSONL}, {"a.ndjson", JSONL}, {"a.json.zst", JSONL},
		{"a.parquet", Parquet}, {"a.pq", Parquet},
		{"a.arrow", Arrow}, {"a.ipc", Arrow}, {"a.feather", Arrow}, {"a.arrow.zst", Arrow},
		{"a.txt", Text}, {"a", Text}, {"a.gz", Text}, {"csv", Text}, {"a.csv.bak", Text}, {"a.gz.csv", CSV},
	} {
		if got := FormatOf(tc.path); got != tc.want {
			t.Errorf("FormatOf(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for f := Text; f <= Arrow; f++ {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if got, err := ParseFormat("CSV"); err != nil || got != CSV {
		t.Errorf("ParseFormat(CSV) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "xml", "json", "parq"} {
		_, err := ParseFormat(bad)
		if err == nil || !strings.Contains(err.Error(), "text, csv, tsv, jsonl, parquet, arrow") {
			t.Errorf("ParseFormat(%q): error %v should list the valid names", bad, err)
		}
	}
	if s := Format(99).String(); s != "Format(99)" {
		t.Errorf("Format(99).String() = %q", s)
	}
}

func TestSetFormatOverrides(t *testing.T) {
	path := writeFile(t, "data.txt", []byte("a,b\n1,2\n"))
	files, err := Expand([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Format != Text {
		t.Fatalf("format %v", files[0].Format)
	}
	SetFormat(files, CSV)
	splits, err := Plan(files, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := readSplit(t, splits[0])
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, "override", got, []row{{off: 4, value: "1,2", fields: []string{"1", "2"}, columns: []string{"a", "b"}}})
}

// A CSV record costs no allocation once the buffers have grown.
func TestCSVNoAllocPerRecord(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b,c\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "%d,\"q,%d\",plain\n", i, i)
	}
	path := writeFile(t, "n.csv", []byte(b.String()))
	files, _ := Expand([]string{path})
	splits, _ := Plan(files, 1<<30)
	rr, err := OpenRecords(splits[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	rr.Next() // grow the buffers
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := rr.Next(); !ok {
			t.Fatal(rr.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record", allocs)
	}
}
