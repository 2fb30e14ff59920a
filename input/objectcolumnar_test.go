package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quern-dev/quern/objstore"
)

// memStore is an objstore.Store in memory that counts the ranged reads
// (GETs) it serves and their bytes, for the tests of how many requests a
// columnar split of an object costs.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	gets    int
	bytes   int64
}

func (m *memStore) counts() (int, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets, m.bytes
}

func (m *memStore) Attrs(_ context.Context, key string) (objstore.Attrs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	if !ok {
		return objstore.Attrs{}, objstore.NotExist("mem://b/"+key, errors.New("no such object"))
	}
	return objstore.Attrs{Key: key, Size: int64(len(data)), ModTime: time.Unix(1e9, 0), Version: "1"}, nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]objstore.Attrs, error) {
	m.mu.Lock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	var out []objstore.Attrs
	for _, k := range keys {
		a, _ := m.Attrs(ctx, k)
		out = append(out, a)
	}
	return out, nil
}

func (m *memStore) NewRangeReader(ctx context.Context, key string, off, n int64) (objstore.Reader, error) {
	a, err := m.Attrs(ctx, key)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	data := m.objects[key][min(off, a.Size):]
	if n >= 0 {
		data = data[:min(n, int64(len(data)))]
	}
	m.gets++
	m.bytes += int64(len(data))
	return memReader{io.NopCloser(bytes.NewReader(data)), a}, nil
}

type memReader struct {
	io.ReadCloser
	a objstore.Attrs
}

func (r memReader) Attrs() objstore.Attrs { return r.a }

var errReadOnly = errors.New("memStore is read-only")

func (m *memStore) NewWriter(context.Context, string) (io.WriteCloser, error) {
	return nil, errReadOnly
}
func (m *memStore) WriteIf(context.Context, string, string, []byte) (objstore.Attrs, error) {
	return objstore.Attrs{}, errReadOnly
}
func (m *memStore) Copy(context.Context, string, string) error     { return errReadOnly }
func (m *memStore) Delete(context.Context, string) error           { return errReadOnly }
func (m *memStore) DeleteIf(context.Context, string, string) error { return errReadOnly }
func (m *memStore) put(key string, data []byte)                    { m.objects[key] = data }

var _ objstore.Store = (*memStore)(nil)

// TestArrowObjectRequests plans Arrow IPC files of many batches in an
// object store into several splits and reads them all: the rows, and
// their row numbers, are those of the local file, and the GETs stay few.
// Before the batch headers were counted at planning and small reads were
// served from a read-ahead, each split read every batch before it, body
// and all, with two GETs per batch: 352 GETs for the 48 batches and 6
// splits here, and 3.5 times the file's bytes.
func TestArrowObjectRequests(t *testing.T) {
	m := &memStore{objects: map[string][]byte{}}
	objstore.Register("memcount", func(context.Context, string) (objstore.Store, error) { return m, nil })
	for _, rows := range []int{20, 1000} {
		path := filepath.Join(t.TempDir(), "t.arrow")
		sizes := make([]int, 48)
		for i := range sizes {
			sizes[i] = rows
		}
		n := writeArrow(t, path, sizes, false)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("t%d.arrow", rows)
		m.put(key, data)
		m.gets, m.bytes = 0, 0
		got, splits := readPlan(t, "memcount://b/"+key, int64(len(data)/6))
		checkRows(t, "arrow object", got, wantRows(n))
		gets, read := m.counts()
		t.Logf("%d batches of %d rows, %d bytes, %d splits: %d GETs, %d bytes fetched", len(sizes), rows, len(data), len(splits), gets, read)
		// Planning: the footer and each batch's header; each split: the
		// footer, then its batches in reads of objectReadAhead or more.
		if limit := len(sizes) + 3 + len(splits)*(3+len(data)/len(splits)/objectReadAhead); len(splits) < 4 || gets > limit {
			t.Errorf("%d splits cost %d GETs, want at most %d", len(splits), gets, limit)
		}
		if limit := int64(len(data) + len(splits)*3*objectReadAhead); read > limit {
			t.Errorf("%d bytes fetched for a file of %d, want at most %d", read, len(data), limit)
		}
		// A split made by hand, without FirstRow, counts the rows
		// before it from the batch headers.
		last := splits[len(splits)-1]
		last.FirstRow = 0
		rows, _, err := readSplit(t, last)
		if err != nil || len(rows) == 0 || rows[0].off != int64(n-len(rows)) {
			t.Fatalf("split %v without FirstRow: %d rows, %v; want them numbered from %d", last, len(rows), err, n-len(rows))
		}
	}
}

// TestParquetObjectRequests reads a Parquet object of small row groups in
// several splits: its footer is read ahead, its column chunks are not
// (the reader takes one column at a time across row groups, so a window
// ahead would be left unread), and the bytes fetched stay near the file's
// size. With a read-ahead on every small read: 30 MB for this 2.3 MB file.
func TestParquetObjectRequests(t *testing.T) {
	m := &memStore{objects: map[string][]byte{}}
	objstore.Register("memparquet", func(context.Context, string) (objstore.Store, error) { return m, nil })
	path := filepath.Join(t.TempDir(), "t.parquet")
	writeParquet(t, path, 48000, 1000)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m.put("t.parquet", data)
	got, splits := readPlan(t, "memparquet://b/t.parquet", int64(len(data)/6))
	checkRows(t, "parquet object", got, wantRows(48000))
	gets, read := m.counts()
	t.Logf("%d bytes, %d splits: %d GETs, %d bytes fetched", len(data), len(splits), gets, read)
	// The footer's window, at planning and in each split, and the file.
	if limit := int64(len(data) + (len(splits)+2)*objectReadAhead); len(splits) < 4 || read > limit {
		t.Errorf("%d splits fetched %d bytes of a file of %d, want at most %d", len(splits), read, len(data), limit)
	}
}
