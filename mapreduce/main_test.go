package mapreduce_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point: the local engine re-executes
// this test binary, and in a worker Main serves tasks and never returns.
func TestMain(m *testing.M) {
	mapreduce.Main()
	// Race-enabled workers otherwise sleep a second at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	if os.Getenv("QUERN_TEST_NO_GOLEAK") != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}
