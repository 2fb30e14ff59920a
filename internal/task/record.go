package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/textbytes"
)

// Record is one input record handed to a map function. Its slices are
// valid only until the map function returns; copy what you keep.
type Record struct {
	// File is the path of the input file the record came from.
	File string
	// Offset locates the record in its file: the byte offset of its first
	// byte in the (decompressed) file for line formats (text, CSV, TSV,
	// JSON lines), the row number for Parquet and Arrow.
	Offset int64
	// Value is the record: for text and JSON lines, the line without its
	// terminator; for CSV and TSV, the raw line; for Parquet and Arrow, the
	// row as a JSON object.
	Value []byte
	// Fields are the record's fields as text, in column order, for CSV,
	// TSV, Parquet and Arrow input; nil for text and JSON lines.
	Fields [][]byte
	// Columns names the fields (the CSV header, the Parquet or Arrow
	// schema). Shared by every record of a file: do not modify.
	Columns []string

	// jsonl is set for a record of JSON-lines input, whose columns are
	// the members of the line's object, found when first asked for (see
	// record.go).
	jsonl bool
}

// Field returns the field of the named column, or nil when there is none.
func (r Record) Field(column string) []byte {
	for i, c := range r.Columns {
		if c == column && i < len(r.Fields) {
			return r.Fields[i]
		}
	}
	return nil
}

// Columns by name: the typed view of a record.
//
// Records of CSV, TSV, Parquet and Arrow input have named columns (Columns,
// Fields); so has a JSON-lines record whose line is an object, its members
// being its columns in line order. That makes Quern's own JSON-lines,
// Parquet and Arrow output readable by column name, so that one job's output
// feeds the next (wordcount's word and count into topk) whatever its format.
// A job that needs columns asks for them by name with Text and Int, whose
// errors name the missing column and list the ones there are, rather than
// falling back to reading the row as a line.

// ErrNoColumn is wrapped by the errors of Text and Int for a column the
// record does not have.
var ErrNoColumn = errors.New("mapreduce: no such column")

// HasColumns reports whether the record has named columns: CSV, TSV,
// Parquet and Arrow records, and JSON-lines records whose line is an
// object.
func (r Record) HasColumns() bool {
	if r.Columns != nil {
		return true
	}
	return r.jsonl && len(bytes.TrimSpace(r.Value)) > 0 && bytes.TrimSpace(r.Value)[0] == '{'
}

// ColumnNames returns the names of the record's columns, in order, or nil
// when it has none (see HasColumns) or its JSON line does not parse, an
// error that Text and Int return.
func (r Record) ColumnNames() []string {
	names, _, _ := r.columns()
	return names
}

// Text returns the named column as text: a string as it is (the escapes
// with which Quern's output stores bytes that are not UTF-8 undone, see
// docs/formats.md), a number in decimal, any other JSON value as its JSON.
// The bytes are valid until the map function returns.
func (r Record) Text(column string) ([]byte, error) {
	names, fields, err := r.columns()
	if err != nil {
		return nil, err
	}
	for i, c := range names {
		if c == column {
			f := fields[i]
			if !textbytes.Unescaped(f) {
				f = textbytes.Unescape(nil, f)
			}
			return f, nil
		}
	}
	// A JSON-lines record's columns are its own line's; any other
	// record's are its file's, which every record of the file lacks.
	ofFile := !r.jsonl
	msg := fmt.Sprintf("%v %q (columns: %s)", ErrNoColumn, column, strings.Join(names, ", "))
	if names == nil {
		msg = fmt.Sprintf("%v %q: the record has no columns (a text line; give CSV, TSV, JSON-lines, Parquet or Arrow input)", ErrNoColumn, column)
	}
	if ofFile {
		// The refusal's own text too: an engine that gets the error as
		// text alone (Beam) knows the refusal by it.
		msg = input.ErrColumns.Error() + ": " + msg
	}
	return nil, &columnError{msg, ofFile}
}

// columnError is Text's error for a column the record does not have. It
// wraps ErrNoColumn, and input.ErrColumns as well when the missing column
// is missing from the whole file (its header or schema, or a text file's
// lines), so that the job fails at once rather than retry a task whose
// every record fails.
type columnError struct {
	msg    string
	ofFile bool
}

func (e *columnError) Error() string { return e.msg }

func (e *columnError) Is(target error) bool {
	return target == ErrNoColumn || e.ofFile && target == input.ErrColumns
}

// Int returns the named column as an int64; a column that is not an
// integer is an error naming it.
func (r Record) Int(column string) (int64, error) {
	f, err := r.Text(column)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("column %q: %q is not an integer", column, f)
	}
	return n, nil
}

// columns returns the record's column names and fields: Columns and
// Fields, or the members of a JSON-lines object, parsed here.
func (r Record) columns() ([]string, [][]byte, error) {
	if r.Columns != nil || !r.HasColumns() {
		return r.Columns, r.Fields, nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%s, offset %d: not a JSON object: %w", r.File, r.Offset, err)
	}
	var names []string
	var fields [][]byte
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("%s, offset %d: not a JSON object: %w", r.File, r.Offset, err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%s, offset %d, member %q: %w", r.File, r.Offset, name, err)
		}
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, nil, fmt.Errorf("%s, offset %d, member %q: %w", r.File, r.Offset, name, err)
			}
			raw = []byte(s)
		}
		names = append(names, name)
		fields = append(fields, raw)
	}
	return names, fields, nil
}
