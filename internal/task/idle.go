package task

import (
	"sync"

	"github.com/quern-dev/quern/internal/kvtable"
	"github.com/quern-dev/quern/spill"
)

// A map task's working memory, its sort buffer and its combiner table, is
// handed to the next map task in the same process instead of being
// allocated anew, so that a worker's second and later tasks fill the arrays
// its first one grew instead of faulting in fresh memory: with a new sort
// buffer per task, the 1 GiB sort's workers took 614k page faults (2.4 GiB)
// and 1.3x the CPU. A sync.Pool lost the buffer to the garbage collector
// between tasks about half the time; one slot each is enough, since a
// worker, like the inline engine, runs one task at a time.
var (
	idleBuffer idle[spill.Buffer]
	idleTable  idle[kvtable.Table]
)

// DropIdle lets go of what the last map task left for the next: when the
// reduce phase starts (held, the sort buffer sat beside the merge's blocks
// over the worker's memory limit and the collector ran without pause) and
// when the inline engine finishes a job.
func DropIdle() {
	idleBuffer.drop()
	idleTable.drop()
}

// idle holds one *T between tasks. Its zero value is empty; T's zero value
// must be ready to use.
type idle[T any] struct {
	mu sync.Mutex
	v  *T
}

// take returns the held value, or a new one.
func (s *idle[T]) take() *T {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.v
	s.v = nil
	if v == nil {
		v = new(T)
	}
	return v
}

// keep holds v, which the caller has emptied, for the next take.
func (s *idle[T]) keep(v *T) {
	s.mu.Lock()
	s.v = v
	s.mu.Unlock()
}

// drop lets the held value go.
func (s *idle[T]) drop() {
	s.mu.Lock()
	s.v = nil
	s.mu.Unlock()
}

// TakeTable returns the combining table the last map task of this process
// left, emptied, or a new one; KeepTable hands it to the next task.
func TakeTable() *kvtable.Table { return idleTable.take() }

// KeepTable holds t, which the caller has emptied (Reset), for the next
// map task's TakeTable.
func KeepTable(t *kvtable.Table) { idleTable.keep(t) }
