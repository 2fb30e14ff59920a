package shuffle

import (
	"errors"

	"github.com/quern-dev/quern/spill"
)

// sliceIter is a spill.Iterator over records held in memory. It reuses one
// KV, as real iterators may, so that tests catch a caller that keeps a
// record past the next Next.
type sliceIter struct {
	recs     []spill.KV
	pos      int
	kv       spill.KV
	failAt   int   // when >= 0, Next fails with failErr at this position
	failErr  error // error reported once failAt is reached
	closeErr error // returned by Close
	closed   int   // number of Close calls
	err      error
}

var _ spill.Iterator = (*sliceIter)(nil)

func newSliceIter(recs []spill.KV) *sliceIter {
	return &sliceIter{recs: recs, failAt: -1}
}

func (s *sliceIter) Next() *spill.KV {
	if s.err != nil {
		return nil
	}
	if s.pos == s.failAt {
		s.err = s.failErr
		return nil
	}
	if s.pos >= len(s.recs) {
		return nil
	}
	r := s.recs[s.pos]
	s.pos++
	// Copy into buffers owned by the iterator, then scribble over the
	// previous contents, so stale references show up as wrong data.
	s.kv.Key = append(scribble(s.kv.Key), r.Key...)
	s.kv.Value = append(scribble(s.kv.Value), r.Value...)
	return &s.kv
}

func scribble(b []byte) []byte {
	for i := range b {
		b[i] = 0xEE
	}
	return b[:0]
}

func (s *sliceIter) Error() error { return s.err }

func (s *sliceIter) Close() error {
	s.closed++
	return s.closeErr
}

var errTest = errors.New("test: injected failure")

// kvs builds records from alternating key, value strings.
func kvs(kv ...string) []spill.KV {
	out := make([]spill.KV, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, spill.KV{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

// drain copies every record of it.
func drain(it spill.Iterator) []spill.KV {
	var out []spill.KV
	for kv := it.Next(); kv != nil; kv = it.Next() {
		out = append(out, spill.KV{Key: append([]byte{}, kv.Key...), Value: append([]byte{}, kv.Value...)})
	}
	return out
}
