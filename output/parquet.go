package output

import (
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// newParquetWriter writes a Parquet file through pqarrow: one row group per
// batch of batchRows records, zstd pages (gzip when asked for), and the
// Arrow schema stored in the metadata so that unsigned and timestamp columns
// read back as the same Arrow types.
func newParquetWriter[K, V any](s *sink, opts Options) (*batchFileWriter[K, V], error) {
	w, err := newBatchFileWriter[K, V](s, opts)
	if err != nil {
		return nil, err
	}
	codec := compress.Codecs.Zstd
	if opts.Compression == Gzip {
		codec = compress.Codecs.Gzip
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(1<<20),
		parquet.WithCreatedBy("quern"),
	)
	fw, ferr := pqarrow.NewFileWriter(w.b.schema, s.w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if ferr != nil {
		w.b.release()
		return nil, ferr
	}
	w.file = fw
	return w, nil
}
