package input

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/quern-dev/quern/objstore"
)

// parquetBatchRows is how many rows a Parquet split decodes at a time: the
// memory of a reader is bounded by this many rows of the widest row group,
// not by the row group's size.
const parquetBatchRows = 8192

// arrowMagic starts (and ends) an Arrow IPC file; a stream has none.
var arrowMagic = []byte("ARROW1")

// planColumnar appends the splits of a Parquet or Arrow file.
func planColumnar(splits []Split, f File, splitSize int64) ([]Split, error) {
	if f.Format == Arrow && f.Compression != None {
		// A compressed Arrow file cannot be entered in the middle; it is
		// read as a stream.
		return append(splits, Split{Index: len(splits), File: f, Start: 0, End: f.Size}), nil
	}
	if f.Compression != None {
		return nil, fmt.Errorf("input: plan %s: a %v-compressed Parquet file cannot be read; "+
			"Parquet compresses its pages itself, so store it uncompressed", f.Path, f.Compression)
	}
	fh, err := openRandomAccess(f)
	if err != nil {
		return nil, fmt.Errorf("input: plan %s: %w", f.Path, err)
	}
	defer fh.Close()
	if f.Format == Parquet {
		return planParquet(splits, f, fh, splitSize)
	}
	return planArrow(splits, f, fh, splitSize)
}

func planParquet(splits []Split, f File, fh randomAccess, splitSize int64) (out []Split, err error) {
	defer recoverInto(&err, "plan "+f.Path)
	pf, err := file.NewParquetReader(fh)
	if err != nil {
		return nil, fmt.Errorf("input: plan %s: not a readable Parquet file: %w", f.Path, err)
	}
	md := pf.MetaData()
	start, size := 0, int64(0)
	for i := range md.NumRowGroups() {
		rg := md.RowGroup(i)
		n := rg.TotalCompressedSize()
		if n <= 0 {
			n = rg.TotalByteSize()
		}
		if i > start && size+n > splitSize {
			splits = append(splits, Split{Index: len(splits), File: f, Start: int64(start), End: int64(i), Unit: RowGroups})
			start, size = i, 0
		}
		size += n
	}
	if md.NumRowGroups() > start {
		splits = append(splits, Split{Index: len(splits), File: f, Start: int64(start), End: int64(md.NumRowGroups()), Unit: RowGroups})
	}
	return splits, nil
}

func planArrow(splits []Split, f File, fh randomAccess, splitSize int64) (out []Split, err error) {
	defer recoverInto(&err, "plan "+f.Path)
	magic := make([]byte, len(arrowMagic))
	if _, err := io.ReadFull(fh, magic); err != nil || !bytes.Equal(magic, arrowMagic) {
		// Not the file format: a stream, read whole. Its errors, if it is
		// no stream either, come from the map task.
		return append(splits, Split{Index: len(splits), File: f, Start: 0, End: f.Size}), nil
	}
	fr, err := ipc.NewFileReader(fh)
	if err != nil {
		return nil, fmt.Errorf("input: plan %s: not a readable Arrow IPC file: %w", f.Path, err)
	}
	defer fr.Close()
	n := int64(fr.NumRecords())
	if n == 0 {
		return splits, nil
	}
	// The reader does not expose each batch's location, so assume
	// batches of equal size.
	per := max(1, splitSize/max(1, f.Size/n))
	var rows []int64
	if n > per {
		// More than one split: each numbers its rows from here.
		if rows, err = arrowBatchRows(exactReaderAt(fh), f.Size, -1); err != nil {
			return nil, fmt.Errorf("input: plan %s: %w", f.Path, err)
		}
	}
	var first int64
	for start := int64(0); start < n; start += per {
		end := min(n, start+per)
		splits = append(splits, Split{Index: len(splits), File: f, Start: start, End: end, Unit: Batches, FirstRow: first})
		for _, k := range rows[start:min(end, int64(len(rows)))] {
			first += k
		}
	}
	return splits, nil
}

// recoverInto turns a panic of the Arrow or Parquet decoders, which some
// corrupt inputs provoke, into an error, so bad input never panics a task.
func recoverInto(err *error, what string) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("input: %s: corrupt input: %v", what, p)
	}
}

// batchSource yields the record batches of a columnar split.
type batchSource interface {
	// next returns the next batch, valid until the following call, and
	// the number of input bytes it stands for; nil at the end or on error.
	next() (arrow.RecordBatch, error)
	close() error
}

// columnRecords reads the rows of a Parquet or Arrow split.
type columnRecords struct {
	split     Split
	src       batchSource
	file      io.Closer
	batch     arrow.RecordBatch
	row, rows int   // next row of batch, and its row count
	offset    int64 // row number in the file of the next row
	r         rowRenderer

	// BytesRead for Parquet: total uncompressed bytes of the split's row
	// groups, shared out over its rows.
	totalBytes, totalRows, returned int64
	bytesRead                       int64 // for Arrow

	err  error
	done bool
}

var _ RecordReader = (*columnRecords)(nil)

func (r *columnRecords) Next() (rec *Record, ok bool) {
	if r.done {
		return nil, false
	}
	for r.row >= r.rows {
		b, err := r.nextBatch()
		if err != nil || b == nil {
			r.err, r.done = err, true
			return nil, false
		}
		if r.r.cols == nil {
			if r.err = r.r.init(b.Schema()); r.err != nil {
				r.err = fmt.Errorf("input: split %v: %w", r.split, r.err)
				r.done = true
				return nil, false
			}
		}
		r.batch, r.row, r.rows = b, 0, int(b.NumRows())
		if r.totalRows == 0 {
			r.bytesRead += batchSize(b)
		}
	}
	r.r.render(r.batch, r.row)
	r.r.rec.Offset = r.offset
	r.row++
	r.offset++
	r.returned++
	return &r.r.rec, true
}

// nextBatch reads a batch, turning a decoder panic into an error.
func (r *columnRecords) nextBatch() (b arrow.RecordBatch, err error) {
	defer recoverInto(&err, "read split "+r.split.String())
	b, err = r.src.next()
	if err != nil {
		err = fmt.Errorf("input: read split %v at row %d: %w", r.split, r.offset, err)
	}
	return b, err
}

func (r *columnRecords) Err() error { return r.err }

func (r *columnRecords) BytesRead() int64 {
	if r.totalRows > 0 {
		return r.totalBytes * r.returned / r.totalRows
	}
	return r.bytesRead
}

func (r *columnRecords) Close() error {
	r.done = true
	r.batch = nil
	var errs []error
	if r.src != nil {
		if err := r.src.close(); err != nil {
			errs = append(errs, fmt.Errorf("input: close split %v: %w", r.split, err))
		}
		r.src = nil
	}
	if r.file != nil {
		if err := r.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("input: close split %v: %w", r.split, err))
		}
		r.file = nil
	}
	return errors.Join(errs...)
}

// checkColumnar checks that s is a range of unit u with Start <= End.
func checkColumnar(s Split, u Unit) error {
	switch {
	case s.Start < 0 || s.End < s.Start:
		return fmt.Errorf("%w %v", ErrBadSplit, s)
	case s.Unit != u:
		return fmt.Errorf("%w %v: a %v split counts %v; plan it with Plan", ErrBadSplit, s, s.File.Format, u)
	case s.File.Compression != None:
		return fmt.Errorf("%w %v: a %v file is read whole, from offset 0", ErrBadSplit, s, s.File.Compression)
	}
	return nil
}

func openParquet(s Split) (_ RecordReader, err error) {
	if err := checkColumnar(s, RowGroups); err != nil {
		return nil, err
	}
	fh, err := openRandomAccess(s.File)
	if err != nil {
		return nil, openError(s, err)
	}
	r := &columnRecords{split: s, file: fh}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	defer recoverInto(&err, "open split "+s.String())
	pf, err := file.NewParquetReader(fh)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: not a readable Parquet file: %w", s, err)
	}
	md := pf.MetaData()
	if s.End > int64(md.NumRowGroups()) {
		return nil, fmt.Errorf("%w %v: the file has %d row groups", ErrBadSplit, s, md.NumRowGroups())
	}
	groups := make([]int, 0, s.Len())
	for i := int(s.Start); i < int(s.End); i++ {
		groups = append(groups, i)
		rg := md.RowGroup(i)
		r.totalBytes += rg.TotalByteSize()
		r.totalRows += rg.NumRows()
	}
	for i := range int(s.Start) {
		r.offset += md.RowGroup(i).NumRows()
	}
	if len(groups) == 0 {
		r.src = emptySource{}
		return r, nil
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, groups)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	r.src = &readerSource{rr: rr}
	return r, nil
}

// emptySource is the source of an empty range.
type emptySource struct{}

func (emptySource) next() (arrow.RecordBatch, error) { return nil, nil }
func (emptySource) close() error                     { return nil }

// readerSource reads batches from a Parquet record reader or an Arrow IPC
// stream reader.
type readerSource struct {
	rr interface {
		Next() bool
		RecordBatch() arrow.RecordBatch
		Schema() *arrow.Schema
		Err() error
		Release()
	}
	closer io.Closer // a decompressor, closed with the source
}

func (s *readerSource) next() (arrow.RecordBatch, error) {
	for s.rr.Next() {
		if b := s.rr.RecordBatch(); b.NumRows() > 0 {
			return b, nil
		}
	}
	if err := s.rr.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	return nil, nil
}

func (s *readerSource) close() error {
	s.rr.Release()
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// fileSource reads the batches [i, end) of an Arrow IPC file.
type fileSource struct {
	fr     *ipc.FileReader
	i, end int
}

func (s *fileSource) next() (arrow.RecordBatch, error) {
	for s.i < s.end {
		b, err := s.fr.RecordBatch(s.i)
		s.i++
		if err != nil {
			return nil, err
		}
		if b.NumRows() > 0 {
			return b, nil
		}
	}
	return nil, nil
}

func (s *fileSource) close() error { return s.fr.Close() }

// zstdCloser adapts a zstd decoder, whose Close returns nothing.
type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

func openArrow(s Split) (_ RecordReader, err error) {
	if s.Unit == Bytes {
		if s.Start != 0 {
			return nil, fmt.Errorf("%w %v: an Arrow stream is read whole, from offset 0", ErrBadSplit, s)
		}
	} else if err := checkColumnar(s, Batches); err != nil {
		return nil, err
	}
	fh, err := openRandomAccess(s.File)
	if err != nil {
		return nil, openError(s, err)
	}
	r := &columnRecords{split: s, file: fh}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	defer recoverInto(&err, "open split "+s.String())
	if s.Unit == Batches {
		fr, err := ipc.NewFileReader(fh)
		if err != nil {
			return nil, fmt.Errorf("input: open split %v: not a readable Arrow IPC file: %w", s, err)
		}
		if s.End > int64(fr.NumRecords()) {
			fr.Close()
			return nil, fmt.Errorf("%w %v: the file has %d batches", ErrBadSplit, s, fr.NumRecords())
		}
		// Row numbers start at FirstRow; a split made without it counts
		// the rows of the batches before Start from their headers.
		r.offset = s.FirstRow
		if s.Start > 0 && s.FirstRow == 0 {
			rows, err := arrowBatchRows(exactReaderAt(fh), s.File.Size, int(s.Start))
			if err != nil {
				fr.Close()
				return nil, fmt.Errorf("input: open split %v: counting the rows before it: %w", s, err)
			}
			for _, k := range rows {
				r.offset += k
			}
		}
		r.src = &fileSource{fr: fr, i: int(s.Start), end: int(s.End)}
		return r, nil
	}
	// A stream, or a file (compressed or not) read as a stream: the file
	// format is the magic, padding, then a stream.
	var stream io.Reader = fh
	if objstore.IsURL(s.File.Path) {
		// One GET for the whole stream, not one per buffer fill.
		obj, err := openObject(s, 0)
		if err != nil {
			return nil, err
		}
		r.file, stream = obj, obj
	}
	var src io.Reader = bufio.NewReaderSize(stream, compressedReadSize)
	var closer io.Closer
	switch s.File.Compression {
	case Gzip:
		gz, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("input: open split %v: %w", s, err)
		}
		src, closer = gz, gz
	case Zstd:
		zd, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("input: open split %v: %w", s, err)
		}
		src, closer = zd, zstdCloser{zd}
	}
	br := bufio.NewReaderSize(src, compressedReadSize)
	if head, _ := br.Peek(len(arrowMagic)); bytes.Equal(head, arrowMagic) {
		br.Discard(8) // magic and padding to 8 bytes
	}
	rd, err := ipc.NewReader(br)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, fmt.Errorf("input: open split %v: not a readable Arrow IPC stream: %w", s, err)
	}
	r.src = &readerSource{rr: rd, closer: closer}
	return r, nil
}

// schemaColumns returns the column names of a Parquet file (from its
// footer) or an Arrow file or stream (from its schema message), so that an
// empty file has them too.
func schemaColumns(f File) (cols []string, err error) {
	what := "read the schema of " + f.Path
	defer recoverInto(&err, what)
	var schema *arrow.Schema
	if f.Format == Parquet {
		fh, err := openRandomAccess(f)
		if err != nil {
			return nil, fmt.Errorf("input: %s: %w", what, err)
		}
		defer fh.Close()
		pf, err := file.NewParquetReader(fh)
		if err != nil {
			return nil, fmt.Errorf("input: %s: not a readable Parquet file: %w", what, err)
		}
		md := pf.MetaData()
		if schema, err = pqarrow.FromParquet(md.Schema, nil, md.KeyValueMetadata()); err != nil {
			return nil, fmt.Errorf("input: %s: %w", what, err)
		}
	} else {
		r, err := openArrow(Split{File: f, Unit: Bytes, End: f.Size})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		// Not a split of the planner's: openArrow read it as a stream,
		// whose reader has read the schema message.
		schema = r.(*columnRecords).src.(*readerSource).rr.Schema()
	}
	for _, fd := range schema.Fields() {
		cols = append(cols, fd.Name)
	}
	return cols, nil
}

// batchSize returns the bytes of the buffers of b's columns, children and
// dictionaries included, as an estimate of the input it stands for.
func batchSize(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += dataSize(c.Data())
	}
	return n
}

func dataSize(d arrow.ArrayData) int64 {
	var n int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			n += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataSize(c)
	}
	// Dictionary returns a typed nil for other types, so ask the type.
	if d.DataType().ID() == arrow.DICTIONARY {
		n += dataSize(d.Dictionary())
	}
	return n
}
