package beamjob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/internal/scratch"
	"github.com/quern-dev/quern/objstore"
)

// TestUploadAfterRunEndsIsWithdrawn: a bundle the runner abandoned may
// still be uploading its part when the launcher gives up on the run and
// deletes the output's _temporary; an upload that lands after that would
// stay for good. Here the run ends while the upload is under way (the
// store's writer ends it before the object appears), in each of the two
// ways a bundle can learn of it: in the launcher's own process (loopback:
// scratch.Abandon), or, for a bundle on a runner's own worker, by the
// launcher deleting the run's marker object. Either way the bundle deletes
// its object. Checking scratch.Ended alone, the part stays in the second
// case; a run that goes on keeps its part.
func TestUploadAfterRunEndsIsWithdrawn(t *testing.T) {
	store := &memStore{objects: map[string][]byte{}}
	objstore.Register("abandontest", func(context.Context, string) (objstore.Store, error) { return store, nil })
	const tmp = "abandontest://bucket/out/_temporary"
	for _, c := range []struct {
		name string
		end  func(pl *Plan) error // nil: the run goes on
	}{
		{"abandoned in the launcher's process", func(pl *Plan) error { scratch.Abandon(pl.run); return nil }},
		{"marker deleted by the launcher elsewhere", func(pl *Plan) error { return pl.endRun(context.Background()) }},
		{"run goes on", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			clear(store.objects)
			run := "abandontest-" + randomName()
			pl := &Plan{run: run, tmp: tmp}
			require.NoError(t, pl.markRunning(context.Background()))
			var endErr error
			store.beforeWrite = func() {
				if c.end != nil {
					endErr = c.end(pl)
				}
			}
			defer func() { store.beforeWrite = nil }()

			part, err := stagePart(run, tmp, "part-x")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(part.Path, []byte("late words\n"), 0o644))
			err = part.publish(context.Background())
			require.NoError(t, endErr)
			if c.end == nil {
				require.NoError(t, err)
				require.Contains(t, store.keys(), "out/_temporary/part-x")
				return
			}
			require.ErrorContains(t, err, "ended")
			require.NotContains(t, store.keys(), "out/_temporary/part-x",
				"a part uploaded after its run ended is left in the output")
			_, err = os.Stat(part.Path)
			require.True(t, errors.Is(err, os.ErrNotExist), "the staged part is left: %v", err)
		})
	}
}

// memStore is an object store in memory with what publish uses; the rest
// is refused.
type memStore struct {
	mu          sync.Mutex
	objects     map[string][]byte
	beforeWrite func() // called as a writer's object is about to appear
}

var errMemStore = errors.New("memStore: not supported")

func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var k []string
	for key := range s.objects {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func (s *memStore) Attrs(_ context.Context, key string) (objstore.Attrs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	if !ok {
		return objstore.Attrs{}, os.ErrNotExist
	}
	return objstore.Attrs{Key: key, Size: int64(len(data))}, nil
}

func (s *memStore) List(_ context.Context, prefix string) ([]objstore.Attrs, error) {
	var out []objstore.Attrs
	for _, k := range s.keys() {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objstore.Attrs{Key: k})
		}
	}
	return out, nil
}

func (s *memStore) NewWriter(_ context.Context, key string) (io.WriteCloser, error) {
	return &memWriter{s: s, key: key}, nil
}

type memWriter struct {
	s   *memStore
	key string
	buf bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *memWriter) Close() error {
	if w.s.beforeWrite != nil {
		w.s.beforeWrite()
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.objects[w.key] = w.buf.Bytes()
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

func (s *memStore) NewRangeReader(context.Context, string, int64, int64) (objstore.Reader, error) {
	return nil, errMemStore
}

func (s *memStore) WriteIf(context.Context, string, string, []byte) (objstore.Attrs, error) {
	return objstore.Attrs{}, errMemStore
}

func (s *memStore) Copy(context.Context, string, string) error     { return errMemStore }
func (s *memStore) DeleteIf(context.Context, string, string) error { return errMemStore }
