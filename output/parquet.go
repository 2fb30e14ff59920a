package output

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetWriter writes a Parquet file through pqarrow: one row group per
// batch of batchRows records, zstd pages (gzip when asked for), and the
// Arrow schema stored in the metadata so that unsigned and timestamp columns
// read back as the same Arrow types.
type parquetWriter[K, V any] struct {
	s    *sink
	b    *batcher[K, V]
	pw   *pqarrow.FileWriter
	done bool
}

func newParquetWriter[K, V any](s *sink, opts Options) (*parquetWriter[K, V], error) {
	w := &parquetWriter[K, V]{s: s}
	w.b = newBatcher[K, V](s.path, opts, func(rec arrow.RecordBatch) error { return w.pw.Write(rec) })
	codec := compress.Codecs.Zstd
	if opts.Compression == Gzip {
		codec = compress.Codecs.Gzip
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(1<<20),
		parquet.WithCreatedBy("quern"),
	)
	var err error
	w.pw, err = pqarrow.NewFileWriter(w.b.schema, s.w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		w.b.release()
		return nil, err
	}
	return w, nil
}

func (w *parquetWriter[K, V]) Write(k K, v V) error { return w.b.write(k, v) }
func (w *parquetWriter[K, V]) Records() int64       { return w.b.count }
func (w *parquetWriter[K, V]) Bytes() int64         { return w.s.n }

func (w *parquetWriter[K, V]) Close() error {
	if w.done {
		return fmt.Errorf("close output %s: already closed", w.s.path)
	}
	w.done = true
	defer w.b.release()
	if err := w.b.flushBatch(); err != nil {
		return err
	}
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("close output %s: %w", w.s.path, err)
	}
	return w.s.close()
}

func (w *parquetWriter[K, V]) Abort() {
	if !w.done {
		w.done = true
		w.b.release()
		w.pw.Close() // releases buffers; the file is removed next
	}
	w.s.abort()
}
