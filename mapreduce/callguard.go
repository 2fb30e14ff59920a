package mapreduce

import "sync/atomic"

// A callGuard catches a function handed to one call of the user's code (Map's
// emit, Reduce's emit and values iterator) being used outside that call: by a
// goroutine that kept it after the call returned, or during a later call,
// when its writes would land in another record's or another key's output.
//
// Each call gets its function from a ring of guardRingSize prepared ones:
// call n gets slot n mod guardRingSize. The guard holds the number of the call
// running now (0 between calls), and a function checks that the current call
// is one of its slot's: one atomic load per use (a plain load on amd64 and
// arm64) and two stores per call, the cost of the single live flag it
// replaced, with nothing built per call (a fresh closure per Map call was an
// allocation per record). The price of the ring: a function kept from call n
// and used during call n+16k (k ≥ 1) is not caught. A goroutine that keeps
// emitting is caught at its first use in any of the other fifteen calls of
// every sixteen, so a kept function cannot go unnoticed for long.
type callGuard struct {
	calls   uint64        // calls begun; only the task goroutine touches it
	current atomic.Uint64 // the call running now, 0 between calls
}

const guardRingSize = 16

// begin marks the start of a call and returns its number (never 0).
func (g *callGuard) begin() uint64 {
	g.calls++
	g.current.Store(g.calls)
	return g.calls
}

// end marks the end of the call begun last.
func (g *callGuard) end() { g.current.Store(0) }

// ok reports whether the function of ring slot slot may be used now, during
// a call it may belong to. It is the check on every use, so it is kept small
// enough to inline; misusedAfter words what went wrong.
func (g *callGuard) ok(slot uint64) bool {
	now := g.current.Load()
	return now != 0 && now%guardRingSize == slot
}

// between reports whether no call is running: a function that fails ok is
// then used after its call returned, else during a later call.
func (g *callGuard) between() bool { return g.current.Load() == 0 }

// guardRing holds the prepared functions of one kind (an emit, an iterator).
type guardRing[F any] [guardRingSize]F

// newGuardRing prepares the ring's functions; build makes the one for a slot,
// which checks its uses with callGuard.ok(slot).
func newGuardRing[F any](build func(slot uint64) F) *guardRing[F] {
	r := new(guardRing[F])
	for i := range r {
		r[i] = build(uint64(i))
	}
	return r
}

// forCall returns the function for call number call.
func (r *guardRing[F]) forCall(call uint64) F { return r[call%guardRingSize] }
