package beamjob

import "testing"

// OnSpill makes f run after every sorted run a sort spills to disk, until
// the test ends.
func OnSpill(t testing.TB, f func()) {
	spilledHook.Store(&f)
	t.Cleanup(func() { spilledHook.Store(nil) })
}
