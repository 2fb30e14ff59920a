package output

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowWriter writes an Arrow IPC file (magic "ARROW1", schema, record
// batches of up to batchRows rows, footer), which pyarrow opens with
// ipc.open_file or feather.read_table, and DuckDB with its arrow extension.
type arrowWriter[K, V any] struct {
	s    *sink
	b    *batcher[K, V]
	ipcw *ipc.FileWriter
	done bool
}

func newArrowWriter[K, V any](s *sink, opts Options) (*arrowWriter[K, V], error) {
	w := &arrowWriter[K, V]{s: s}
	w.b = newBatcher[K, V](s.path, opts, func(rec arrow.RecordBatch) error { return w.ipcw.Write(rec) })
	ipcOpts := []ipc.Option{ipc.WithSchema(w.b.schema), ipc.WithAllocator(memory.DefaultAllocator)}
	if opts.Compression == Zstd {
		ipcOpts = append(ipcOpts, ipc.WithZstd())
	}
	var err error
	w.ipcw, err = ipc.NewFileWriter(s.w, ipcOpts...)
	if err != nil {
		w.b.release()
		return nil, err
	}
	return w, nil
}

func (w *arrowWriter[K, V]) Write(k K, v V) error { return w.b.write(k, v) }
func (w *arrowWriter[K, V]) Records() int64       { return w.b.count }
func (w *arrowWriter[K, V]) Bytes() int64         { return w.s.n }

func (w *arrowWriter[K, V]) Close() error {
	if w.done {
		return fmt.Errorf("close output %s: already closed", w.s.path)
	}
	w.done = true
	defer w.b.release()
	if err := w.b.flushBatch(); err != nil {
		return err
	}
	if err := w.ipcw.Close(); err != nil {
		return fmt.Errorf("close output %s: %w", w.s.path, err)
	}
	return w.s.close()
}

func (w *arrowWriter[K, V]) Abort() {
	if !w.done {
		w.done = true
		w.b.release()
	}
	w.s.abort()
}
