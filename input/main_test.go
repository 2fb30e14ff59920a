package input

import (
	"testing"

	"go.uber.org/goleak"
)

// The zstd decoder runs with concurrency 1 so that it starts no goroutine;
// goleak holds us to that.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
