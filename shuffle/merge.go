package shuffle

import (
	"errors"
	"fmt"

	"github.com/quern-dev/quern/spill"
)

// NewMerger merges already-sorted iterators into one iterator sorted by key
// (bytes.Compare). Records with equal keys come out in input order: all of
// inputs[0]'s first, then inputs[1]'s, and so on, so a merge is
// deterministic.
//
// The merger returns its inputs' records without copying them; a record is
// valid until the next call to Next. The first error of an input stops the
// merge: Next returns nil and Error reports it, wrapped with the input's
// index. Close closes every input and returns their errors combined.
//
// The merger takes ownership of the inputs: the caller must not call their
// methods afterwards, except through the merger. Nil inputs are treated as
// empty.
func NewMerger(inputs []spill.Iterator) spill.Iterator {
	return newMergingIter(inputs, nil)
}

// mergingIter is the k-way merge behind NewMerger and OpenPartition.
type mergingIter struct {
	inputs []mergeInput
	tree   loserTree
	// top is the input whose record Next returned last, nil before the
	// first Next and after the last record.
	top     *mergeInput
	started bool
	closed  bool
	err     error
	// errInput and inputErr are the failed input and its own error, so
	// Close does not report that error a second time (spill iterators
	// return it from Close too).
	errInput int
	inputErr error

	// wrap adds input i's name to an error of operation op ("read",
	// "close"); nil means "merge input i".
	wrap func(i int, op string, err error) error
	// onClose runs after the inputs are closed: OpenPartition closes its
	// run readers and removes its intermediate runs there.
	onClose func() error
}

var _ spill.Iterator = (*mergingIter)(nil)

func newMergingIter(inputs []spill.Iterator, wrap func(i int, op string, err error) error) *mergingIter {
	if wrap == nil {
		wrap = func(i int, op string, err error) error {
			return fmt.Errorf("shuffle: %s merge input %d: %w", op, i, err)
		}
	}
	m := &mergingIter{
		inputs: make([]mergeInput, len(inputs)),
		wrap:   wrap,
	}
	for i, it := range inputs {
		m.inputs[i] = mergeInput{it: it, done: it == nil}
	}
	m.tree.inputs = m.inputs
	return m
}

// start positions every input on its first record and builds the tree. It
// runs on the first Next rather than in the constructor so that creating a
// merger does no I/O and cannot fail.
func (m *mergingIter) start() {
	m.started = true
	for i := range m.inputs {
		in := &m.inputs[i]
		if in.done {
			continue
		}
		kv := in.it.Next()
		if kv == nil {
			if err := in.it.Error(); err != nil {
				m.setErr(i, err)
				return
			}
			in.done = true
			continue
		}
		in.kv, in.key = kv, kv.Key
	}
	if len(m.inputs) == 0 {
		return
	}
	m.tree.init()
	m.setTop()
}

// setTop points top at the tree's winner, or at nil when every input is done.
func (m *mergingIter) setTop() {
	m.top = &m.inputs[m.tree.winner()]
	if m.top.done {
		m.top = nil
	}
}

// Next returns the smallest remaining record, or nil when all inputs are
// exhausted or one failed. The record is valid until the next call to Next.
func (m *mergingIter) Next() *spill.KV {
	if m.err != nil || m.closed {
		return nil
	}
	if !m.started {
		m.start()
	} else if top := m.top; top != nil {
		// The top input's record was returned by the previous call and
		// may now be overwritten: advance that input.
		kv := top.it.Next()
		if kv == nil {
			if err := top.it.Error(); err != nil {
				m.setErr(m.tree.winner(), err)
				return nil
			}
			top.kv, top.key, top.done = nil, nil, true
		} else {
			top.kv, top.key = kv, kv.Key
		}
		m.tree.fixWinner()
		m.setTop()
	}
	if m.err != nil || m.top == nil {
		return nil
	}
	return m.top.kv
}

func (m *mergingIter) setErr(i int, err error) {
	m.errInput, m.inputErr = i, err
	m.err = m.wrap(i, "read", err)
}

// Error returns the first error met by any input, or nil.
func (m *mergingIter) Error() error { return m.err }

// Close closes every input, even after an error, and returns all their
// errors joined, leaving out the error Error already reported. Calling
// Close again returns nil.
func (m *mergingIter) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for i := range m.inputs {
		in := &m.inputs[i]
		if in.it == nil {
			continue
		}
		if err := in.it.Close(); err != nil && !(i == m.errInput && errors.Is(err, m.inputErr)) {
			errs = append(errs, m.wrap(i, "close", err))
		}
		in.kv, in.key = nil, nil
	}
	m.top = nil
	if m.onClose != nil {
		if err := m.onClose(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
