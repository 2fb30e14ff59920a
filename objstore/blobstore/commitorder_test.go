package blobstore_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

// recordingStore records the keys written to it, in order.
type recordingStore struct {
	objstore.Store
	mu      sync.Mutex
	written []string
}

type recordedWriter struct {
	io.WriteCloser
	s   *recordingStore
	key string
}

func (w recordedWriter) Close() error {
	err := w.WriteCloser.Close()
	if err == nil {
		w.s.mu.Lock()
		w.s.written = append(w.s.written, w.key)
		w.s.mu.Unlock()
	}
	return err
}

func (s *recordingStore) NewWriter(ctx context.Context, key string) (io.WriteCloser, error) {
	w, err := s.Store.NewWriter(ctx, key)
	if err != nil {
		return nil, err
	}
	return recordedWriter{w, s, key}, nil
}

// TestObjectCommitOrder checks the order of an object-store commit on the
// local engine: every part, then _job.json, then _SUCCESS, last, whose
// manifest names exactly the parts written; nothing is written into the
// prefix under another name (the job stages locally, never in the prefix).
func TestObjectCommitOrder(t *testing.T) {
	dir := t.TempDir()
	names := corpus(t, dir+"/in")
	b := servers.Bucket(t, "s3", "order")
	upload(t, dir+"/in", b, "in", names)
	inner, _, err := objstore.Open(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingStore{Store: inner}
	objstore.Register("s3rec", func(context.Context, string) (objstore.Store, error) { return rec, nil })
	out := "s3rec://order/out"
	if _, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{b + "/in"}, Output: out, Reducers: 3, TmpDir: dir}); err != nil {
		t.Fatal(err)
	}
	w := rec.written
	if len(w) != 5 || w[len(w)-1] != "out/_SUCCESS" || w[len(w)-2] != "out/_job.json" {
		t.Fatalf("writes into the prefix: %v; want 3 parts, then out/_job.json, then out/_SUCCESS", w)
	}
	parts := slices.Sorted(slices.Values(w[:3]))
	committed, err := objstore.ReadSuccess(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range committed {
		committed[i] = strings.TrimPrefix(committed[i], "s3rec://order/")
	}
	if !slices.Equal(parts, committed) {
		t.Errorf("_SUCCESS names %v, the parts written were %v", committed, parts)
	}
}
