package blobstore_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quern-dev/quern/objstore"
)

// TestLockExcludes races eight acquirers of one output prefix on each
// store, through the stores' conditional create: exactly one holds it,
// the others are refused naming the prefix, the holder and the lock
// object. After Release the prefix can be taken again, and a holder on
// the same host that is dead is taken over, by one of two racers only.
func TestLockExcludes(t *testing.T) {
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			out := servers.Bucket(t, scheme, "lock-"+scheme) + "/out"
			alive := func(objstore.Holder) bool { return true }
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				held   []*objstore.OutputLock
				errs   []error
				holder = func(i int) objstore.Holder {
					return objstore.Holder{Job: "wordcount", Host: "host-a", PID: 100 + i, Process: "p", Since: time.Unix(1e9, 0)}
				}
			)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, err := objstore.AcquireLock(ctx, out, holder(i), alive)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					} else {
						held = append(held, l)
					}
				}()
			}
			wg.Wait()
			if len(held) != 1 || len(errs) != 7 {
				t.Fatalf("%d acquirers hold %s, %d refused (%v); want 1 and 7", len(held), out, len(errs), errs)
			}
			for _, err := range errs {
				if !errors.Is(err, objstore.ErrLocked) || !strings.Contains(err.Error(), out+"/"+objstore.LockName) ||
					!strings.Contains(err.Error(), `job "wordcount", pid 1`) || !strings.Contains(err.Error(), "host-a") {
					t.Errorf("refusal %q: want ErrLocked naming the holder and the lock object", err)
				}
			}
			if err := held[0].Release(ctx); err != nil {
				t.Fatal(err)
			}
			again, err := objstore.AcquireLock(ctx, out, holder(9), alive)
			if err != nil {
				t.Fatalf("after Release: %v", err)
			}
			// The conditional replace a take-over uses: of two writes
			// on the same version, the second is refused.
			s, u, err := objstore.Open(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			key := u.Key + "/cas"
			v0, err := s.WriteIf(ctx, key, "", []byte("0"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.WriteIf(ctx, key, v0.Version, []byte("1")); err != nil {
				t.Fatalf("replace version %s: %v", v0.Version, err)
			}
			if _, err := s.WriteIf(ctx, key, v0.Version, []byte("2")); !errors.Is(err, objstore.ErrPrecondition) {
				t.Errorf("second replace of version %s: err = %v, want ErrPrecondition", v0.Version, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			// holder(9) is now dead: of two takers on its host, one
			// takes the lock over and the other finds it alive.
			dead := func(h objstore.Holder) bool { return h.PID != 9+100 }
			var takers []*objstore.OutputLock
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, err := objstore.AcquireLock(ctx, out, holder(20+i), dead)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						takers = append(takers, l)
					} else if !errors.Is(err, objstore.ErrLocked) {
						t.Errorf("taker %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			if len(takers) != 1 || takers[0].Stale == nil || takers[0].Stale.PID != 109 {
				t.Fatalf("%d jobs took over the dead holder's lock (%+v), want 1", len(takers), takers)
			}
			// The dead holder's late Release leaves the new lock alone.
			if err := again.Release(ctx); err != nil {
				t.Fatal(err)
			}
			// A job on another host cannot tell whether the holder
			// runs: it is refused, whatever alive would say.
			never := func(objstore.Holder) bool { t.Error("alive asked about another host's holder"); return false }
			if _, err := objstore.AcquireLock(ctx, out, objstore.Holder{Host: "host-b"}, never); !errors.Is(err, objstore.ErrLocked) {
				t.Errorf("after a stale holder's Release: err = %v, want the taker's lock to stand", err)
			}
			if err := takers[0].Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// takeoverStore reads a lock object's attributes and then, once, lets
// another job take the lock over before the answer comes back: the state
// a releasing holder meets when a taker replaced its lock between the
// holder's read and its delete.
type takeoverStore struct {
	objstore.Store
	armed atomic.Bool
	taker []byte // the taker's lock content
}

func (s *takeoverStore) Attrs(ctx context.Context, key string) (objstore.Attrs, error) {
	a, err := s.Store.Attrs(ctx, key)
	if err == nil && strings.HasSuffix(key, objstore.LockName) && s.armed.CompareAndSwap(true, false) {
		if _, err := s.Store.WriteIf(ctx, key, a.Version, s.taker); err != nil {
			return a, fmt.Errorf("the test's take-over: %w", err)
		}
	}
	return a, err
}

// TestReleaseKeepsATakersLock takes a job's lock over between the job's
// read of its lock and its delete: the job's Release must leave the
// taker's lock in place (the delete is conditional on the job's own
// version, checked by the store), on both stores.
func TestReleaseKeepsATakersLock(t *testing.T) {
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			b := servers.Bucket(t, scheme, "release-"+scheme)
			inner, _, err := objstore.Open(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			taker := objstore.Holder{Job: "taker", Host: "host-a", PID: 2, Process: "p2", Since: time.Unix(1e9, 0)}
			data, _ := json.Marshal(taker)
			race := &takeoverStore{Store: inner, taker: data}
			objstore.Register(scheme+"takeover", func(context.Context, string) (objstore.Store, error) { return race, nil })
			out := scheme + "takeover://release-" + scheme + "/out"
			me := objstore.Holder{Job: "first", Host: "host-a", PID: 1, Process: "p1", Since: time.Unix(1e9, 0)}
			l, err := objstore.AcquireLock(ctx, out, me, func(objstore.Holder) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			race.armed.Store(true)
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if race.armed.Load() {
				t.Fatal("Release did not read its lock; the take-over never happened")
			}
			got, err := objstore.ReadObject(ctx, b+"/out/"+objstore.LockName)
			if err != nil || string(got) != string(data) {
				t.Fatalf("after the first job's Release the lock is %q (%v), want the taker's %s", got, err, data)
			}
		})
	}
}

// TestWriteIfRace holds two conditional creates of one key at the S3
// server until both have arrived, then lets both in: exactly one creates
// the object, the other is refused with ErrPrecondition and the content
// is the winner's. A create checked by a read before an unconditional
// PUT would let both through.
func TestWriteIfRace(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "s3", "writeif-race")
	var arrived sync.WaitGroup
	arrived.Add(2)
	servers.InterceptS3(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/race") {
			arrived.Done()
			arrived.Wait()
		}
		next.ServeHTTP(w, r)
	})
	s, _, err := objstore.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		wins atomic.Int64
		errs = make([]error, 2)
	)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs[i] = s.WriteIf(ctx, "race", "", []byte{byte('a' + i)}); errs[i] == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of two racing creates won (errors %v), want exactly one", wins.Load(), errs)
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, objstore.ErrPrecondition) {
			t.Errorf("the losing create: %v, want ErrPrecondition", err)
		}
	}
}

// TestWriteIfVersionIsItsOwn replaces the object right after S3 took a
// conditional create and before its answer reaches the writer: WriteIf
// must return the version it wrote (the PUT's own ETag), not the
// replacement's, or a lock would later delete, as its own, the object
// that replaced it.
func TestWriteIfVersionIsItsOwn(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "s3", "writeif-own")
	servers.InterceptS3(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/own") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if err := servers.PutS3("writeif-own", "own", []byte("theirs")); err != nil {
			t.Error(err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	s, _, err := objstore.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.WriteIf(ctx, "own", "", []byte("mine"))
	if err != nil {
		t.Fatal(err)
	}
	etag := func(data string) string { sum := md5.Sum([]byte(data)); return `"` + hex.EncodeToString(sum[:]) + `"` }
	if a.Version != etag("mine") {
		t.Errorf("WriteIf returned version %s; it wrote %s and the replacement is %s", a.Version, etag("mine"), etag("theirs"))
	}
	if err := s.DeleteIf(ctx, "own", a.Version); !errors.Is(err, objstore.ErrPrecondition) {
		t.Errorf("DeleteIf of the replaced version: %v, want ErrPrecondition", err)
	}
	if got, err := objstore.ReadObject(ctx, b+"/own"); err != nil || string(got) != "theirs" {
		t.Errorf("the replacement is %q (%v), want it kept", got, err)
	}
}
