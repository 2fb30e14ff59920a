package beamtest

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, or fails the test after two minutes:
// a test waits for a state (a process up, gone, a port listening), never
// for a time, since the machine that runs it may be loaded.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
