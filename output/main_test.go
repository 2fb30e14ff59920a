package output

import (
	"testing"

	"go.uber.org/goleak"
)

// zstd encoders and decoders can start goroutines; every one must be
// released by Close or Abort.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
