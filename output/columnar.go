package output

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quern-dev/quern/internal/pathfmt"
)

// batchRows is the number of records the Arrow and Parquet writers hold in
// builders before they write them out: one Arrow record batch, one Parquet
// row group. 64K rows of a (string, int64) pair is a few MiB, which keeps a
// reducer's memory bounded while amortising per-batch metadata.
const batchRows = 64 << 10

// batchBytes caps a batch by the bytes in its variable-width columns, so
// that long values cannot make a 64K-row batch hold gigabytes.
const batchBytes = 32 << 20

// schemaFor returns the Arrow schema of (K, V) records: the key's columns,
// then the value's (see column). Two columns of one name are an error.
func schemaFor[K, V any](kc column[K], vc column[V]) (*arrow.Schema, error) {
	fs := append(append([]arrow.Field(nil), kc.fields...), vc.fields...)
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Name] {
			return nil, fmt.Errorf("output: two columns named %q", f.Name)
		}
		seen[f.Name] = true
	}
	return arrow.NewSchema(fs, nil), nil
}

// keyColumn and valueColumn build the columns of K and V for opts.
func keyColumn[K any](opts Options) column[K] { return newColumn[K](opts.keyName(), opts.TextBytes) }
func valueColumn[V any](opts Options) column[V] {
	if isRow[V](opts) {
		return rowColumn[V](opts.ValueColumns)
	}
	return newColumn[V](opts.valueName(), opts.TextBytes)
}

// batcher accumulates records in Arrow builders and hands full batches to
// flush.
type batcher[K, V any] struct {
	path   string
	schema *arrow.Schema
	rb     *array.RecordBuilder
	kb, vb []array.Builder // the builders of the key's and value's columns
	kc     column[K]
	vc     column[V]
	rows   int
	count  int64
	flush  func(arrow.RecordBatch) error
	err    error
}

func newBatcher[K, V any](path string, opts Options, flush func(arrow.RecordBatch) error) (*batcher[K, V], error) {
	b := &batcher[K, V]{path: path, kc: keyColumn[K](opts), vc: valueColumn[V](opts), flush: flush}
	var err error
	if b.schema, err = schemaFor(b.kc, b.vc); err != nil {
		return nil, err
	}
	b.rb = array.NewRecordBuilder(memory.DefaultAllocator, b.schema)
	nk := len(b.kc.fields)
	b.kb, b.vb = b.rb.Fields()[:nk], b.rb.Fields()[nk:]
	return b, nil
}

func (b *batcher[K, V]) write(k K, v V) error {
	if b.err != nil {
		return b.err
	}
	if err := b.kc.put(b.kb, k); err != nil {
		// A failed put may have appended part of a nested value;
		// the batch is no longer rectangular, so stop here.
		b.err = fmt.Errorf("write output %s, record %d, key: %w", b.path, b.count, err)
		return b.err
	}
	if err := b.vc.put(b.vb, v); err != nil {
		b.err = fmt.Errorf("write output %s, record %d, value: %w", b.path, b.count, err)
		return b.err
	}
	b.rows++
	b.count++
	if b.rows >= batchRows || b.rows&1023 == 0 && b.varBytes() >= batchBytes {
		return b.flushBatch()
	}
	return nil
}

// varBytes estimates the bytes held by the builders; it is checked every
// 1024 rows only, since it walks the builders.
func (b *batcher[K, V]) varBytes() int {
	n := 0
	for _, fb := range b.rb.Fields() {
		if bb, ok := fb.(*array.BinaryBuilder); ok {
			n += bb.DataLen()
		} else if sb, ok := fb.(*array.StringBuilder); ok {
			n += sb.DataLen()
		} else {
			// Nested and fixed-width columns: a rough 16 bytes a row.
			n += 16 * b.rows
		}
	}
	return n
}

func (b *batcher[K, V]) flushBatch() error {
	if b.rows == 0 || b.err != nil {
		return b.err
	}
	rec := b.rb.NewRecordBatch()
	defer rec.Release()
	b.rows = 0
	if err := b.flush(rec); err != nil {
		b.err = writeErr(b.path, fmt.Sprintf("before record %d", b.count), err)
	}
	return b.err
}

func (b *batcher[K, V]) release() { b.rb.Release() }

// batchFile is a file format that takes whole record batches: an Arrow IPC
// file writer or a Parquet file writer.
type batchFile interface {
	Write(rec arrow.RecordBatch) error
	Close() error
}

// batchFileWriter is the Writer of the batch formats: it gathers records
// into batches and hands each one to its file.
type batchFileWriter[K, V any] struct {
	s    *sink
	b    *batcher[K, V]
	file batchFile
	done bool
}

// newBatchFileWriter returns a writer whose file the caller sets next: the
// file needs the batcher's schema to be created.
func newBatchFileWriter[K, V any](s *sink, opts Options) (*batchFileWriter[K, V], error) {
	w := &batchFileWriter[K, V]{s: s}
	var err error
	w.b, err = newBatcher[K, V](s.path, opts, func(rec arrow.RecordBatch) error { return w.file.Write(rec) })
	return w, err
}

func (w *batchFileWriter[K, V]) Write(k K, v V) error { return w.b.write(k, v) }
func (w *batchFileWriter[K, V]) Records() int64       { return w.b.count }
func (w *batchFileWriter[K, V]) Bytes() int64         { return w.s.n }

func (w *batchFileWriter[K, V]) Close() error {
	if w.done {
		return fmt.Errorf("close output %s: already closed", w.s.path)
	}
	w.done = true
	defer w.b.release()
	if err := w.b.flushBatch(); err != nil {
		return err
	}
	if err := w.file.Close(); err != nil {
		return pathfmt.Wrap("close output", w.s.path, err)
	}
	return w.s.close()
}

func (w *batchFileWriter[K, V]) Abort() {
	if !w.done {
		w.done = true
		w.b.release()
		w.file.Close() // releases the file writer's buffers; the file is removed next
	}
	w.s.abort()
}
