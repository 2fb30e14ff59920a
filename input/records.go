package input

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrCSV is wrapped by the errors of a CSV or TSV [RecordReader] that meets
// a malformed record: a row whose field count differs from the header's, a
// quote in the wrong place, or a quoted field left open at the end of a
// line of a file that is read in several splits.
var ErrCSV = errors.New("input: malformed delimited record")

// ErrColumns is wrapped by the error of a job that asks a file for columns
// it does not have: a column its CSV or TSV header, or its Parquet or
// Arrow schema, does not name, or a column asked of a plain text file.
// Every record of the file would fail the same way, so the driver fails
// the job at once instead of retrying (internal/driver/refusal.go). A map
// function may wrap it in its own error about a file's columns for the
// same effect.
var ErrColumns = errors.New("input: the file does not have the columns the job reads")

// Record is one record of any format. Its slices are valid until the next
// call to Next and must not be modified.
type Record struct {
	// Offset is the byte offset of the record's first byte in the
	// (uncompressed) file for line formats, and the row number within the
	// file, from 0, for Parquet and Arrow.
	Offset int64
	// Value is the line (without terminator) for Text and JSONL, the raw
	// line for CSV and TSV, and the row as a JSON object
	// {"col": value, ...} with real JSON types for Parquet and Arrow.
	Value []byte
	// Fields are the record's fields as text, in column order, for CSV,
	// TSV, Parquet and Arrow: unquoted CSV text; numbers in Go's strconv
	// form; a null as an empty field. Nil for Text and JSONL.
	Fields [][]byte
	// Columns names the fields: the header line of a CSV or TSV file, the
	// schema of a Parquet or Arrow file. It is shared by every record of
	// the file. Nil for Text and JSONL.
	Columns []string
}

// RecordReader reads the records of one [Split]. Use it like
// bufio.Scanner: loop on Next, then check Err, then Close.
type RecordReader interface {
	// Next returns the next record, valid until the next call to Next. It
	// returns false at the end of the split or on error; see Err.
	Next() (*Record, bool)
	// Err returns the first error met by Next, or nil at a clean end.
	// Errors name the split (file and range) and, for line formats, the
	// byte offset of the line at fault.
	Err() error
	// BytesRead returns the input bytes consumed so far: for line formats
	// the bytes of the lines returned, as [LineReader.BytesRead]; for
	// Parquet the uncompressed size of the split's row groups (from the
	// footer) in proportion to the rows returned; for Arrow the in-memory
	// size of the buffers of each batch loaded, counted when it is loaded.
	BytesRead() int64
	// Close releases the file and any decoder.
	Close() error
}

// OpenRecords opens the file of s and returns a reader of the records of
// s according to s.File.Format. The caller must Close it.
//
// Text and JSONL records are the lines of [Open].
//
// CSV and TSV records are the lines of [Open] cut into fields. The first
// line of the file is the header: every split reads it (a split that does
// not start at 0 reads the file's first line separately) to learn the
// columns, and it is not a record. A UTF-8 byte-order mark before the
// header is removed. Empty lines are skipped. Every other line must have
// as many fields as the header. CSV follows RFC 4180 within a line: a field
// that starts with '"' is quoted, ends at the next lone '"', which must be
// followed by ',' or the end of the line, and "" stands for one '"' inside
// it; a '"' inside an unquoted field is an ordinary character. TSV has no
// quoting at all.
//
// A quoted CSV field that holds a newline cannot be split by byte range,
// because a split starting inside it cannot tell. Such a field is read only
// when the split is the whole file (a compressed file, or a split size at
// least the file's size); the newline is returned as "\n" even where the
// file has "\r\n". In any other split it is an error wrapping [ErrCSV] that
// names the file and the line's offset, rather than wrong fields.
//
// Parquet and Arrow records are rows; see [Record] for how they are
// rendered.
//
// A WholeFile split has one record: Offset 0 and Value the file's whole
// (decompressed) contents, at most [WholeFileLimit] bytes.
//
// A reader whose file is no longer the one [Expand] found fails with a
// [ChangedError].
func OpenRecords(s Split) (RecordReader, error) {
	return openRecords(s, nil)
}

// openRecords is OpenRecords reading the file of a small split from small
// if it is not nil (see openLines).
func openRecords(s Split, small lineFile) (RecordReader, error) {
	switch s.File.Format {
	case Text, JSONL:
		lr, err := openLines(s, small)
		if err != nil {
			return nil, err
		}
		return &lineRecords{lr: lr, jsonl: s.File.Format == JSONL}, nil
	case CSV, TSV:
		return openDelimited(s, small)
	case Parquet:
		return checkedOpen(s, openParquet)
	case Arrow:
		return checkedOpen(s, openArrow)
	case WholeFile:
		return openWholeFile(s)
	default:
		return nil, fmt.Errorf("input: open split %v: unknown format %v", s, s.File.Format)
	}
}

// lineRecords reads Text and JSONL records.
type lineRecords struct {
	lr    *LineReader
	rec   Record
	jsonl bool
}

var (
	_ RecordReader = (*lineRecords)(nil)
	_ Filterable   = (*lineRecords)(nil)
)

// A Filterable RecordReader can pass over, unreturned, the records that do
// not contain a given string of bytes, faster than its caller could look
// at each (Text and JSONL records, whose lines are searched for it in the
// buffer: [LineReader.NextContaining]). A job that declares the bytes
// that every record it acts on holds (grep: its pattern's literal prefix)
// is then handed only those records.
type Filterable interface {
	RecordReader
	// NextContaining is Next for the records whose bytes contain sub,
	// which must pass ValidFilter; skipped counts the records passed
	// over before the one returned. A nil record with ok says that a
	// buffer of records was passed over: call again.
	NextContaining(sub []byte) (rec *Record, skipped int64, ok bool)
}

// utf8BOM is the byte order mark some Windows tools (PowerShell's
// Out-File, Notepad) put before UTF-8 text.
const utf8BOM = "\xef\xbb\xbf"

func (r *lineRecords) Next() (*Record, bool) {
	line, off, ok := r.lr.Next()
	if !ok {
		return nil, false
	}
	return r.record(line, off), true
}

// NextContaining implements Filterable. A JSONL file's byte order mark is
// searched with its first line and trimmed after, so a record that holds
// sub is returned, with the mark or without.
func (r *lineRecords) NextContaining(sub []byte) (rec *Record, skipped int64, ok bool) {
	line, off, skipped, ok := r.lr.NextContaining(sub)
	if line == nil {
		return nil, skipped, ok
	}
	return r.record(line, off), skipped, true
}

// record is the record of the line at offset off.
func (r *lineRecords) record(line []byte, off int64) *Record {
	if off == 0 && r.jsonl {
		// Not part of the first line's JSON, which would otherwise not
		// parse (topk counted it as a plain line), as a CSV header's
		// is not part of its first column's name. A text line keeps it:
		// its bytes are the record.
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	r.rec.Offset, r.rec.Value = off, line
	return &r.rec
}

func (r *lineRecords) Err() error       { return r.lr.Err() }
func (r *lineRecords) BytesRead() int64 { return r.lr.BytesRead() }
func (r *lineRecords) Close() error     { return r.lr.Close() }

// StoredBytesRead is [LineReader.StoredBytesRead].
func (r *lineRecords) StoredBytesRead() int64 { return r.lr.StoredBytesRead() }

// Grown is [LineReader.Grown].
func (r *lineRecords) Grown() bool { return r.lr.Grown() }

// StopAt is [LineReader.StopAt].
func (r *lineRecords) StopAt(end int64) bool { return r.lr.StopAt(end) }

// delimRecords reads CSV and TSV records.
type delimRecords struct {
	lr    *LineReader
	split Split
	sep   byte
	csv   bool
	// whole is set when the split is the whole file, so that a quoted
	// field may go on over the next line.
	whole bool
	// header is set until the header line has been skipped (split at 0).
	header bool

	rec    Record
	fields [][]byte // reused for rec.Fields
	buf    []byte   // unquoted CSV field bytes of the current record
	ends   []int    // end of each field in buf
	raw    []byte   // the raw record when it spans several lines
	err    error
	done   bool
}

var _ RecordReader = (*delimRecords)(nil)

func openDelimited(s Split, small lineFile) (*delimRecords, error) {
	r := &delimRecords{split: s, sep: ',', csv: s.File.Format == CSV}
	if !r.csv {
		r.sep = '\t'
	}
	r.whole = s.Start == 0 && (s.File.Compression != None || s.End >= s.File.Size)
	if s.Start != 0 {
		// Learn the columns from the first line of the file.
		if err := r.readHeader(); err != nil {
			return nil, err
		}
	} else {
		r.header = true
	}
	lr, err := openLines(s, small)
	if err != nil {
		return nil, err
	}
	r.lr = lr
	return r, nil
}

// readHeader reads the first line of r's file into rec.Columns.
func (r *delimRecords) readHeader() error {
	s := r.split
	hr, err := Open(Split{Index: s.Index, File: s.File, Start: 0, End: 1})
	if err != nil {
		return err
	}
	line, off, ok := hr.Next()
	if ok {
		err = r.setHeader(line, off)
	} else if err = hr.Err(); err == nil {
		err = fmt.Errorf("input: split %v: the file has no header line", s)
	}
	return errors.Join(err, hr.Close())
}

// Columns returns the column names of f's records, as [Record.Columns]
// gives them, without reading any record: the header line of a CSV or TSV
// file, the schema of a Parquet or Arrow file; nil for the other formats.
// A job uses it while planning, to name its output's columns after its
// input's.
func Columns(f File) ([]string, error) {
	switch f.Format {
	case CSV, TSV:
		r := &delimRecords{split: Split{File: f, End: f.Size}, sep: ',', csv: f.Format == CSV}
		if !r.csv {
			r.sep = '\t'
		}
		if err := r.readHeader(); err != nil {
			return nil, err
		}
		return r.rec.Columns, nil
	case Parquet, Arrow:
		return schemaColumns(f)
	}
	return nil, nil
}

// setHeader parses the header line into rec.Columns.
func (r *delimRecords) setHeader(line []byte, off int64) error {
	line = bytes.TrimPrefix(line, []byte(utf8BOM))
	var open bool
	if r.csv {
		var err error
		if open, err = r.parseCSV(line, false, off); err != nil {
			return err
		}
	} else {
		r.splitTSV(line)
	}
	if open {
		return fmt.Errorf("%w: split %v: header line at offset 0 ends inside a quoted field", ErrCSV, r.split)
	}
	cols := make([]string, len(r.ends))
	for i := range cols {
		cols[i] = string(r.fieldAt(i))
	}
	r.rec.Columns = cols
	return nil
}

func (r *delimRecords) Next() (*Record, bool) {
	if r.done {
		return nil, false
	}
	for {
		line, off, ok := r.lr.Next()
		if !ok {
			r.done = true
			return nil, false
		}
		if r.header {
			r.header = false
			if r.err = r.setHeader(line, off); r.err != nil {
				r.done = true
				return nil, false
			}
			continue
		}
		if len(line) == 0 {
			continue
		}
		r.rec.Offset, r.rec.Value = off, line
		if r.csv {
			if !r.csvRecord(line, off) {
				r.done = true
				return nil, false
			}
		} else {
			r.splitTSV(line)
		}
		if len(r.ends) != len(r.rec.Columns) {
			r.err = fmt.Errorf("%w: split %v: record at offset %d has %d fields, the header has %d",
				ErrCSV, r.split, off, len(r.ends), len(r.rec.Columns))
			r.done = true
			return nil, false
		}
		r.fields = r.fields[:0]
		for i := range r.ends {
			r.fields = append(r.fields, r.fieldAt(i))
		}
		r.rec.Fields = r.fields
		return &r.rec, true
	}
}

// csvRecord parses the record that starts with line into buf and ends,
// reading more lines while a quoted field stays open and the split is the
// whole file. It reports false, with r.err set, on error.
func (r *delimRecords) csvRecord(line []byte, off int64) bool {
	open, err := r.parseCSV(line, false, off)
	if err != nil {
		r.err = err
		return false
	}
	if !open {
		return true
	}
	if !r.whole {
		r.err = fmt.Errorf("%w: split %v: record at offset %d: quoted field not closed by the end of the line; "+
			"a file whose quoted fields hold newlines must be read as one split (compress it, or raise the split size above its size)",
			ErrCSV, r.split, off)
		return false
	}
	// The record goes on over the next lines: keep a copy of the raw
	// text, since the line reader reuses its buffer.
	r.raw = append(r.raw[:0], line...)
	for open {
		next, _, ok := r.lr.Next()
		if !ok {
			if r.err = r.lr.Err(); r.err == nil {
				r.err = fmt.Errorf("%w: split %v: record at offset %d: quoted field not closed by the end of the file",
					ErrCSV, r.split, off)
			}
			return false
		}
		if most := MaxLine(); most > 0 && int64(len(r.raw)+len(next)) >= most {
			// A quote not closed would otherwise hold the rest of
			// the file, twice (raw and buf); see longline.go.
			r.err = recordTooLong(r.split, off, len(r.raw))
			return false
		}
		r.raw = append(r.raw, '\n')
		r.raw = append(r.raw, next...)
		r.buf = append(r.buf, '\n')
		if open, err = r.parseCSV(next, true, off); err != nil {
			r.err = err
			return false
		}
	}
	r.rec.Value = r.raw
	return true
}

// parseCSV appends the fields of line to buf and ends; inQuote says that
// line continues a quoted field (and its fields are appended to those
// already parsed). It reports whether line ends inside a quoted field,
// whose bytes so far are in buf without an end. off is the record's offset
// for errors.
func (r *delimRecords) parseCSV(line []byte, inQuote bool, off int64) (open bool, err error) {
	if !inQuote {
		r.buf, r.ends = r.buf[:0], r.ends[:0]
	}
	i := 0
	for {
		if !inQuote {
			if i < len(line) && line[i] == '"' {
				inQuote = true
				i++
			} else {
				j := bytes.IndexByte(line[i:], r.sep)
				if j < 0 {
					r.buf = append(r.buf, line[i:]...)
					r.ends = append(r.ends, len(r.buf))
					return false, nil
				}
				r.buf = append(r.buf, line[i:i+j]...)
				r.ends = append(r.ends, len(r.buf))
				i += j + 1
				continue
			}
		}
		// Inside a quoted field.
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			r.buf = append(r.buf, line[i:]...)
			return true, nil
		}
		r.buf = append(r.buf, line[i:i+j]...)
		i += j + 1
		if i < len(line) && line[i] == '"' {
			r.buf = append(r.buf, '"')
			i++
			continue
		}
		inQuote = false
		r.ends = append(r.ends, len(r.buf))
		if i == len(line) {
			return false, nil
		}
		if line[i] != r.sep {
			return false, fmt.Errorf("%w: split %v: record at offset %d: %q after the closing quote of field %d (want %q or end of line)",
				ErrCSV, r.split, off, line[i], len(r.ends), r.sep)
		}
		i++
		if i == len(line) {
			// A separator at the very end: one more, empty field.
			r.ends = append(r.ends, len(r.buf))
			return false, nil
		}
	}
}

// splitTSV cuts line at tabs. Fields point into line itself, so buf is
// the line and ends index it.
func (r *delimRecords) splitTSV(line []byte) {
	r.buf, r.ends = line, r.ends[:0]
	for i := 0; ; {
		j := bytes.IndexByte(line[i:], '\t')
		if j < 0 {
			r.ends = append(r.ends, len(line))
			return
		}
		i += j
		r.ends = append(r.ends, i)
		i++
	}
}

// fieldAt returns field i of the record parsed last.
func (r *delimRecords) fieldAt(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
		if !r.csv {
			start++ // skip the tab
		}
	}
	return r.buf[start:r.ends[i]:r.ends[i]]
}

func (r *delimRecords) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.lr.Err()
}

func (r *delimRecords) BytesRead() int64 { return r.lr.BytesRead() }

// StoredBytesRead is [LineReader.StoredBytesRead].
func (r *delimRecords) StoredBytesRead() int64 { return r.lr.StoredBytesRead() }

// Grown is [LineReader.Grown].
func (r *delimRecords) Grown() bool { return r.lr.Grown() }

func (r *delimRecords) Close() error {
	r.done = true
	return r.lr.Close()
}
