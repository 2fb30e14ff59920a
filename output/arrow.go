package output

import (
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// newArrowWriter writes an Arrow IPC file (magic "ARROW1", schema, record
// batches of up to batchRows rows, footer), which pyarrow opens with
// ipc.open_file or feather.read_table, and DuckDB with its arrow extension.
func newArrowWriter[K, V any](s *sink, opts Options) (*batchFileWriter[K, V], error) {
	w, err := newBatchFileWriter[K, V](s, opts)
	if err != nil {
		return nil, err
	}
	ipcOpts := []ipc.Option{ipc.WithSchema(w.b.schema), ipc.WithAllocator(memory.DefaultAllocator)}
	if opts.Compression == Zstd {
		ipcOpts = append(ipcOpts, ipc.WithZstd())
	}
	fw, ferr := ipc.NewFileWriter(s.w, ipcOpts...)
	if ferr != nil {
		w.b.release()
		return nil, ferr
	}
	w.file = fw
	return w, nil
}
