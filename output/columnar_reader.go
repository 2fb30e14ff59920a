package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// batchSource yields the record batches of an Arrow or Parquet file. A
// returned batch stays valid until the next call.
type batchSource interface {
	schema() *arrow.Schema
	next() (arrow.RecordBatch, error) // io.EOF at the end
	close() error
}

// columnarReader reads (K, V) rows out of record batches, finding the key
// and value columns by name.
type columnarReader[K, V any] struct {
	path       string
	src        batchSource
	kc         column[K]
	vc         column[V]
	kidx, vidx []int         // indexes of the key's and value's columns
	kcol, vcol []arrow.Array // those columns of rec
	rec        arrow.RecordBatch
	row        int
	rows       int64
	err        error
}

func newColumnarReader[K, V any](path string, src batchSource, opts Options) (*columnarReader[K, V], error) {
	r := &columnarReader[K, V]{path: path, src: src, kc: keyColumn[K](opts), vc: valueColumn[V](opts)}
	sc := src.schema()
	find := func(fields []arrow.Field) ([]int, error) {
		var out []int
		for _, f := range fields {
			idx := sc.FieldIndices(f.Name)
			if len(idx) != 1 {
				return nil, fmt.Errorf("no column %q in schema %s", f.Name, sc)
			}
			out = append(out, idx[0])
		}
		return out, nil
	}
	var err error
	if r.kidx, err = find(r.kc.fields); err != nil {
		return nil, err
	}
	if r.vidx, err = find(r.vc.fields); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *columnarReader[K, V]) Next() (k K, v V, ok bool) {
	if r.err != nil {
		return k, v, false
	}
	for r.rec == nil || r.row >= int(r.rec.NumRows()) {
		rec, err := r.src.next()
		if err != nil {
			if err != io.EOF {
				r.err = fmt.Errorf("%s, row %d: %w", r.path, r.rows, err)
			}
			r.rec = nil
			return k, v, false
		}
		r.rec, r.row = rec, 0
		r.kcol, r.vcol = r.kcol[:0], r.vcol[:0]
		for _, i := range r.kidx {
			r.kcol = append(r.kcol, rec.Column(i))
		}
		for _, i := range r.vidx {
			r.vcol = append(r.vcol, rec.Column(i))
		}
	}
	var err error
	if k, err = r.kc.get(r.kcol, r.row); err != nil {
		r.err = fmt.Errorf("%s, row %d, key: %w", r.path, r.rows, err)
		return k, v, false
	}
	if v, err = r.vc.get(r.vcol, r.row); err != nil {
		r.err = fmt.Errorf("%s, row %d, value: %w", r.path, r.rows, err)
		return k, v, false
	}
	r.row++
	r.rows++
	return k, v, true
}

func (r *columnarReader[K, V]) Err() error   { return r.err }
func (r *columnarReader[K, V]) Close() error { return r.src.close() }

// arrowSource reads an Arrow IPC file one record batch at a time.
type arrowSource struct {
	f  *os.File
	fr *ipc.FileReader
	i  int
}

func openArrowSource(path string) (*arrowSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fr, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("arrow file: %w", err)
	}
	return &arrowSource{f: f, fr: fr}, nil
}

func (s *arrowSource) schema() *arrow.Schema { return s.fr.Schema() }

func (s *arrowSource) next() (arrow.RecordBatch, error) {
	if s.i >= s.fr.NumRecords() {
		return nil, io.EOF
	}
	rec, err := s.fr.RecordBatch(s.i)
	if err != nil {
		return nil, fmt.Errorf("record batch %d: %w", s.i, err)
	}
	s.i++
	return rec, nil
}

func (s *arrowSource) close() error {
	return errors.Join(s.fr.Close(), s.f.Close())
}

// parquetSource reads a Parquet file through pqarrow in batches of
// batchRows rows.
type parquetSource struct {
	pf *file.Reader
	rr pqarrow.RecordReader
}

func openParquetSource(path string) (*parquetSource, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("parquet file: %w", err)
	}
	return &parquetSource{pf: pf, rr: rr}, nil
}

func (s *parquetSource) schema() *arrow.Schema { return s.rr.Schema() }

func (s *parquetSource) next() (arrow.RecordBatch, error) {
	if s.rr.Next() {
		return s.rr.RecordBatch(), nil
	}
	if err := s.rr.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	return nil, io.EOF
}

func (s *parquetSource) close() error {
	s.rr.Release()
	return s.pf.Close()
}

// openColumnar opens a batch source and a typed reader over it.
func openColumnar[K, V any, S batchSource](path string, opts Options, open func(string) (S, error)) (*columnarReader[K, V], error) {
	src, err := open(path)
	if err != nil {
		return nil, err
	}
	r, err := newColumnarReader[K, V](path, src, opts)
	if err != nil {
		src.close()
		return nil, err
	}
	return r, nil
}
