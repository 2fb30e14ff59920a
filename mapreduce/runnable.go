package mapreduce

import (
	"context"
	"log/slog"

	"github.com/quern-dev/quern/input"
)

// runnable is a compiled job as the engines see it: tasks in, files and
// counters out, with every key and value already bytes.
type runnable interface {
	info() JobInfo
	runMap(ctx context.Context, spec mapSpec, logger *slog.Logger) (mapResult, error)
	runReduce(ctx context.Context, spec reduceSpec, logger *slog.Logger) (reduceResult, error)
	// sampleKeys maps the first records of some splits in this process
	// and returns the encoded keys, for TotalOrder's range boundaries.
	sampleKeys(ctx context.Context, splits []input.Split, params map[string]string, logger *slog.Logger) ([][]byte, error)
}

var _ runnable = (*compiled[string, int, string, int])(nil)

// taskRunner runs task attempts somewhere: in this goroutine (inline) or in
// a worker process (local).
type taskRunner interface {
	runMap(ctx context.Context, spec mapSpec) (mapResult, error)
	runReduce(ctx context.Context, spec reduceSpec) (reduceResult, error)
	// slots is how many attempts may run at once.
	slots() int
	close() error
}
