package shuffle

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines: spill's readers and writers may run
// compression in the background, and a merge must not leave any behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
