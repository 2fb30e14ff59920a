package gcs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/quern-dev/quern/objstore"
)

// newStore starts fake-gcs-server with one bucket and returns a Store on
// it, through a proxy that answers 503 to the requests fail picks (nil:
// none).
func newStore(t *testing.T, fail func(*http.Request) bool) (*Store, *fakestorage.Server) {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail(r) {
			http.Error(w, `{"error":{"message":"try again"}}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))
	s, err := Open(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func write(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	w, err := s.NewWriter(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, s *Store, key string, off, n int64) ([]byte, objstore.Attrs) {
	t.Helper()
	r, err := s.NewRangeReader(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("read %s [%d,+%d): %v", key, off, n, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got, r.Attrs()
}

// TestResumableUpload writes objects of every size around the chunk size:
// one request below it, a resumable session of several chunks above, and
// reads each back whole and in ranges.
func TestResumableUpload(t *testing.T) {
	var puts atomic.Int64 // chunks sent to resumable sessions
	s, _ := newStore(t, func(r *http.Request) bool {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		return false
	})
	s.chunkSize = 1024
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	for _, n := range []int{0, 1, 1023, 1024, 1025, 2048, 5000} {
		key := "dir/obj-" + strings.Repeat("x", n%7)
		puts.Store(0)
		write(t, s, key, data[:n])
		if chunks := (n + 1023) / 1024; chunks > 1 && puts.Load() != int64(chunks) {
			t.Errorf("%d bytes went in %d chunks, want %d", n, puts.Load(), chunks)
		} else if chunks <= 1 && puts.Load() != 0 {
			t.Errorf("%d bytes went in %d chunks, want one request", n, puts.Load())
		}
		got, a := read(t, s, key, 0, -1)
		if !bytes.Equal(got, data[:n]) || a.Size != int64(n) || a.Version == "" {
			t.Fatalf("%d bytes: read back %d bytes, attrs %+v", n, len(got), a)
		}
		if n < 10 {
			continue
		}
		got, a = read(t, s, key, 3, 7)
		if string(got) != string(data[3:10]) || a.Size != int64(n) {
			t.Errorf("%d bytes: [3,10) = %q, size %d", n, got, a.Size)
		}
		got, _ = read(t, s, key, int64(n-4), -1)
		if string(got) != string(data[n-4:n]) {
			t.Errorf("%d bytes: tail = %q", n, got)
		}
		got, a = read(t, s, key, 5, 0)
		if len(got) != 0 || a.Size != int64(n) {
			t.Errorf("%d bytes: empty range = %q, size %d", n, got, a.Size)
		}
		got, a = read(t, s, key, int64(n), -1)
		if len(got) != 0 || a.Size != int64(n) || a.Version == "" {
			t.Errorf("%d bytes: read from the end = %q, attrs %+v", n, got, a)
		}
	}
}

// TestCancelledWriterLeavesNothing cancels a writer's context after a
// chunk went out: Close fails and no object appears.
func TestCancelledWriterLeavesNothing(t *testing.T) {
	s, _ := newStore(t, nil)
	s.chunkSize = 1024
	for _, n := range []int{100, 3000} {
		ctx, cancel := context.WithCancel(context.Background())
		w, _ := s.NewWriter(ctx, "cancelled")
		if _, err := w.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := w.Close(); !errors.Is(err, context.Canceled) {
			t.Errorf("%d bytes: Close = %v, want context.Canceled", n, err)
		}
		if _, err := s.Attrs(context.Background(), "cancelled"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%d bytes: after a cancelled write, Attrs = %v, want fs.ErrNotExist", n, err)
		}
	}
}

// TestListPages lists more objects than fit in a page, in key order, and
// only those under the prefix.
func TestListPages(t *testing.T) {
	s, _ := newStore(t, nil)
	s.pageSize = 2
	keys := []string{"p/a", "p/b", "p/c/d", "p/e", "p/f", "q"}
	for _, k := range keys {
		write(t, s, k, []byte(k))
	}
	list, err := s.List(context.Background(), "p/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Key)
		if a.Size != int64(len(a.Key)) || a.Version == "" || a.ModTime.IsZero() {
			t.Errorf("listed %+v", a)
		}
	}
	if strings.Join(got, " ") != "p/a p/b p/c/d p/e p/f" {
		t.Errorf("list p/ = %v", got)
	}
}

// TestWriteIf checks the generation preconditions: create only if absent,
// replace only the generation read, delete only the generation read.
func TestWriteIf(t *testing.T) {
	s, _ := newStore(t, nil)
	ctx := context.Background()
	a, err := s.WriteIf(ctx, "lock", "", []byte("one"))
	if err != nil || a.Size != 3 || a.Version == "" {
		t.Fatalf("create = %+v, %v", a, err)
	}
	if _, err := s.WriteIf(ctx, "lock", "", []byte("two")); !errors.Is(err, objstore.ErrPrecondition) {
		t.Errorf("create over an existing object: %v, want ErrPrecondition", err)
	}
	b, err := s.WriteIf(ctx, "lock", a.Version, []byte("three"))
	if err != nil || b.Version == a.Version {
		t.Fatalf("replace generation %s = %+v, %v", a.Version, b, err)
	}
	if _, err := s.WriteIf(ctx, "lock", a.Version, []byte("four")); !errors.Is(err, objstore.ErrPrecondition) {
		t.Errorf("replace a stale generation: %v, want ErrPrecondition", err)
	}
	if got, _ := read(t, s, "lock", 0, -1); string(got) != "three" {
		t.Errorf("content = %q, want three", got)
	}
	// A delete conditional on a replaced generation leaves the object.
	if err := s.DeleteIf(ctx, "lock", a.Version); err != nil && !errors.Is(err, objstore.ErrPrecondition) {
		t.Errorf("delete a replaced generation: %v", err)
	}
	if got, _ := read(t, s, "lock", 0, -1); string(got) != "three" {
		t.Errorf("after a delete of a replaced generation, content = %q, want three", got)
	}
	if err := s.DeleteIf(ctx, "lock", b.Version); err != nil {
		t.Errorf("delete the live generation: %v", err)
	}
	if _, err := s.Attrs(ctx, "lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a delete of the live generation: %v, want it gone", err)
	}
}

// TestRetry answers 503 to the first two tries of every request: each
// call still succeeds. A request refused every time fails with GCS's
// words.
func TestRetry(t *testing.T) {
	defer func(d time.Duration) { firstBackoff = d }(firstBackoff)
	firstBackoff = time.Millisecond
	var n atomic.Int64
	s, _ := newStore(t, func(r *http.Request) bool {
		if r.URL.Query().Get("name") == "never" {
			return true
		}
		return n.Add(1)%3 != 0
	})
	s.chunkSize = 1024
	ctx := context.Background()
	write(t, s, "big", make([]byte, 3000))
	write(t, s, "small", []byte("x"))
	if got, a := read(t, s, "big", 0, -1); len(got) != 3000 || a.Size != 3000 {
		t.Errorf("read %d bytes, attrs %+v", len(got), a)
	}
	if err := s.Copy(ctx, "copy", "small"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "copy"); err != nil {
		t.Fatal(err)
	}
	w, _ := s.NewWriter(ctx, "never")
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "try again") || !strings.Contains(err.Error(), "gs://b/never") {
		t.Errorf("a write refused %d times: %v, want GCS's message and the object's URL", tries, err)
	}
}

// TestMissing: a missing object or bucket matches fs.ErrNotExist and is
// named; deleting a missing object is no error.
func TestMissing(t *testing.T) {
	s, _ := newStore(t, nil)
	ctx := context.Background()
	if _, err := s.Attrs(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "gs://b/nope") {
		t.Errorf("Attrs = %v", err)
	}
	if _, err := s.NewRangeReader(ctx, "nope", 0, -1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read = %v", err)
	}
	if err := s.Copy(ctx, "x", "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copy = %v", err)
	}
	if err := s.Delete(ctx, "nope"); err != nil {
		t.Errorf("delete = %v", err)
	}
	other := *s
	other.bucket = "no-such-bucket"
	if _, err := other.Attrs(ctx, "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing bucket: %v", err)
	}
}

// TestLockAfterLostAnswer: GCS creates the lock object but its answer is
// lost (here: replaced by a 503), so the retried create finds the object
// and is refused. The object is this job's own lock, and AcquireLock takes
// it rather than refusing the job as locked by itself; Release deletes it.
func TestLockAfterLostAnswer(t *testing.T) {
	defer func(d time.Duration) { firstBackoff = d }(firstBackoff)
	firstBackoff = time.Millisecond
	_, srv := newStore(t, nil)
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var lost atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Query().Get("ifGenerationMatch") == "0" && lost.CompareAndSwap(false, true) {
			proxy.ServeHTTP(httptest.NewRecorder(), r) // done, but the answer is lost
			http.Error(w, "lost", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))
	objstore.Register("gslost", func(ctx context.Context, bucket string) (objstore.Store, error) { return Open(ctx, bucket) })
	ctx := context.Background()
	me := objstore.Holder{Job: "wordcount", Host: "host-a", PID: 7, Process: "7@1", Since: time.Now()}
	l, err := objstore.AcquireLock(ctx, "gslost://b/out", me, func(objstore.Holder) bool { return true })
	if !lost.Load() {
		t.Fatal("the lock's create was not sent through the proxy")
	}
	if err != nil {
		t.Fatalf("AcquireLock after a lost answer: %v, want the lock", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(ctx, "b")
	if _, err := s.Attrs(ctx, "out/"+objstore.LockName); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock object after Release: %v, want it gone", err)
	}
}
