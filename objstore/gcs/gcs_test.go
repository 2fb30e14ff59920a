package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/quern-dev/quern/objstore"
)

// newStore starts fake-gcs-server with one bucket and returns a Store on
// it, through a proxy that answers 503 to the requests fail picks (nil:
// none) and answers resumable uploads' status queries (see sessions).
func newStore(t *testing.T, fail func(*http.Request) bool) (*Store, *fakestorage.Server) {
	return newStoreLosing(t, fail, nil)
}

// newStoreLosing is newStore whose proxy also loses the answers of the
// chunks lose picks: it passes on the first keep bytes of the chunk
// (all of them if keep < 0), then answers 503 whatever GCS answered.
func newStoreLosing(t *testing.T, fail func(*http.Request) bool, lose func(r *http.Request, chunk []byte) (keep int, lost bool)) (*Store, *fakestorage.Server) {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	target, _ := url.Parse(srv.URL())
	sessions := &sessions{next: httputil.NewSingleHostReverseProxy(target), lose: lose, state: map[string]*session{}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail(r) {
			http.Error(w, `{"error":{"message":"try again"}}`, http.StatusServiceUnavailable)
			return
		}
		sessions.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))
	s, err := Open(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

// sessions stands before fake-gcs-server for what it lacks of GCS's
// resumable uploads: the status query (a PUT of no bytes, Content-Range:
// bytes */TOTAL or bytes */*), which GCS answers with the bytes the
// session holds and which fake-gcs-server takes as the end of the upload.
// It notes what the server answered to each chunk (308 and the bytes held,
// or the finished object) and answers status queries from that. It also
// loses chunks' answers, for the tests of lost answers.
type sessions struct {
	next  http.Handler
	lose  func(r *http.Request, chunk []byte) (keep int, lost bool)
	mu    sync.Mutex
	state map[string]*session // by upload_id
}

type session struct {
	held int64  // bytes the server holds
	done []byte // the object's JSON, once the upload is complete
}

func (ss *sessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("upload_id")
	if r.Method != http.MethodPut || id == "" {
		ss.next.ServeHTTP(w, r)
		return
	}
	chunk, _ := io.ReadAll(r.Body)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st := ss.state[id]
	if st == nil {
		st = &session{}
		ss.state[id] = st
	}
	if cr := r.Header.Get("Content-Range"); strings.HasPrefix(cr, "bytes */") && len(chunk) == 0 {
		if st.done != nil {
			w.Write(st.done)
			return
		}
		if st.held > 0 {
			w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", st.held-1))
		}
		w.WriteHeader(http.StatusPermanentRedirect)
		return
	}
	keep, lost := -1, false
	if ss.lose != nil {
		keep, lost = ss.lose(r, chunk)
	}
	fwd := r.Clone(r.Context())
	if keep >= 0 && keep < len(chunk) {
		// Only the first keep bytes reach the server.
		first, _, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Content-Range"), "bytes "), "-")
		start, _ := strconv.Atoi(first)
		fwd.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/*", start, start+keep-1))
		chunk = chunk[:keep]
	}
	fwd.Body, fwd.ContentLength = io.NopCloser(bytes.NewReader(chunk)), int64(len(chunk))
	rec := httptest.NewRecorder()
	ss.next.ServeHTTP(rec, fwd)
	switch rec.Code {
	case http.StatusPermanentRedirect:
		if rg := rec.Header().Get("Range"); rg != "" {
			_, end, _ := strings.Cut(rg, "-")
			last, _ := strconv.ParseInt(end, 10, 64)
			st.held = last + 1
		}
	case http.StatusOK, http.StatusCreated:
		st.done = rec.Body.Bytes()
	}
	if lost {
		http.Error(w, `{"error":{"message":"answer lost"}}`, http.StatusServiceUnavailable)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
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
	var (
		mu   sync.Mutex
		seen = map[string]int{} // tries of each request
	)
	s, _ := newStore(t, func(r *http.Request) bool {
		if r.URL.Query().Get("name") == "never" {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		req := r.Method + " " + r.URL.String() + " " + r.Header.Get("Content-Range")
		seen[req]++
		return seen[req] <= 2
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

// TestLostChunkAnswer loses the answer to one chunk of a resumable
// upload, after the server kept all of the chunk, half of it, or (the
// last chunk) completed the object: the writer must ask the session what
// it holds and send only what it lacks, and the object read back must be
// the bytes written, neither repeated nor missing. fake-gcs-server appends
// whatever a chunk carries, so a chunk sent again whole would show as
// repeated bytes, and a finished upload's session is gone.
func TestLostChunkAnswer(t *testing.T) {
	defer func(d time.Duration) { firstBackoff = d }(firstBackoff)
	firstBackoff = time.Millisecond
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	for _, c := range []struct {
		name  string
		chunk string // the Content-Range of the chunk whose answer is lost
		keep  int    // bytes of it that reach the server; -1: all
	}{
		{"whole first chunk kept", "bytes 0-1023/*", -1},
		{"half of a chunk kept", "bytes 1024-2047/*", 512},
		{"last chunk kept, object complete", "bytes 2048-2999/3000", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var lost atomic.Bool
			s, _ := newStoreLosing(t, nil, func(r *http.Request, _ []byte) (int, bool) {
				if r.Header.Get("Content-Range") == c.chunk && lost.CompareAndSwap(false, true) {
					return c.keep, true
				}
				return -1, false
			})
			s.chunkSize = 1024
			write(t, s, "obj", data)
			if !lost.Load() {
				t.Fatalf("no chunk was sent with Content-Range %q", c.chunk)
			}
			if got, a := read(t, s, "obj", 0, -1); !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes (size %d), want the %d written", len(got), a.Size, len(data))
			}
		})
	}
}
