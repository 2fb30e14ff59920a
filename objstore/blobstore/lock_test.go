package blobstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
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
