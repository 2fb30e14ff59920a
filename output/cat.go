package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quern-dev/quern/internal/textbytes"
)

// Cat writes the records of an output file (any of the formats above, by
// extension and magic bytes; .gz/.zst text decompressed) to w as text lines
// "key\tvalue" (Parquet/Arrow: columns joined by tabs, one row per line).
//
// Cells print as the text format prints values: strings and binary raw,
// numbers in decimal, timestamps in RFC 3339, lists and structs as JSON.
// JSONL objects print their fields' values in file order, strings unquoted.
func Cat(w io.Writer, path string) error {
	head := make([]byte, 8)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cat: %w", err)
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]

	bw := bufio.NewWriterSize(w, 64<<10)
	var src batchSource
	switch {
	case bytes.HasPrefix(head, parquetMagic):
		src, err = openParquetSource(path)
	case bytes.HasPrefix(head, arrowMagic):
		src, err = openArrowSource(path)
	default:
		if err := catLines(bw, path); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
	}
	if err != nil {
		return fmt.Errorf("cat %s: %w", path, err)
	}
	if src != nil {
		err = errors.Join(catBatches(bw, src), src.close())
		if err != nil {
			return fmt.Errorf("cat %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cat %s: %w", path, err)
	}
	return nil
}

// isJSONLName reports whether path names a JSONL file, compressed or not.
func isJSONLName(path string) bool {
	path = strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".zst")
	return strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson")
}

func catLines(w *bufio.Writer, path string) error {
	src, err := openLines(path)
	if err != nil {
		return err
	}
	defer src.close()
	jsonl := isJSONLName(path)
	var out []byte
	for {
		line, err := src.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if jsonl {
			if out, err = jsonToTabs(out[:0], line); err != nil {
				return fmt.Errorf("%s, line %d: %w", path, src.lines, err)
			}
			line = out
		}
		w.Write(line)
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
	}
}

// jsonToTabs appends the values of the JSON object in line, in order,
// joined by tabs; strings lose their quotes.
func jsonToTabs(dst, line []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return dst, errors.New("not a JSON object")
	}
	var raw json.RawMessage
	for i := 0; dec.More(); i++ {
		if _, err := dec.Token(); err != nil { // the field name
			return dst, err
		}
		if err := dec.Decode(&raw); err != nil {
			return dst, err
		}
		if i > 0 {
			dst = append(dst, '\t')
		}
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return dst, err
			}
			dst = textbytes.Unescape(dst, s)
		} else {
			dst = append(dst, raw...)
		}
	}
	return dst, nil
}

func catBatches(w *bufio.Writer, src batchSource) error {
	var line []byte
	var cells []func([]byte, int) []byte
	for {
		rec, err := src.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		cells = cells[:0]
		for _, col := range rec.Columns() {
			cells = append(cells, cellFormatter(col))
		}
		for row := range int(rec.NumRows()) {
			line = line[:0]
			for c, cell := range cells {
				if c > 0 {
					line = append(line, '\t')
				}
				line = cell(line, row)
			}
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
}

// cellFormatter returns the text form of the cells of column a, chosen once
// per batch.
func cellFormatter(a arrow.Array) func([]byte, int) []byte {
	switch a := a.(type) {
	case *array.String:
		// Text escaped by the writer (textbytes) prints as the
		// original bytes, as the text format writes them.
		return func(dst []byte, i int) []byte { return textbytes.Unescape(dst, a.Value(i)) }
	case *array.Binary:
		return func(dst []byte, i int) []byte { return append(dst, a.Value(i)...) }
	case *array.Int64:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, a.Value(i), 10) }
	case *array.Int32:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }
	case *array.Uint64:
		return func(dst []byte, i int) []byte { return strconv.AppendUint(dst, a.Value(i), 10) }
	case *array.Float64:
		return func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, a.Value(i), 'g', -1, 64) }
	case *array.Float32:
		return func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, float64(a.Value(i)), 'g', -1, 32) }
	case *array.Boolean:
		return func(dst []byte, i int) []byte { return strconv.AppendBool(dst, a.Value(i)) }
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(dst []byte, i int) []byte {
			return a.Value(i).ToTime(unit).UTC().AppendFormat(dst, time.RFC3339Nano)
		}
	}
	return func(dst []byte, i int) []byte {
		b, err := json.Marshal(a.GetOneForMarshal(i))
		if err != nil {
			return append(dst, a.ValueStr(i)...)
		}
		return append(dst, b...)
	}
}
