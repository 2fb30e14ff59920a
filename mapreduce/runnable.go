package mapreduce

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/output"
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
	// columnsFromInput names the output value's columns from the
	// input, or returns nil (Job.ColumnsFromInput).
	columnsFromInput(params map[string]string, files []input.File) ([]string, error)
	// canMerge reports whether output keys have an order to merge by.
	canMerge() bool
	// mergeParts k-way merges sorted part files into dst.
	mergeParts(dst string, parts []string, opts output.Options) error
}

var _ runnable = (*compiled[string, int, string, int])(nil)

// taskRunner runs task attempts somewhere: in this goroutine (inline) or in
// a worker process (local).
type taskRunner interface {
	runMap(ctx context.Context, spec mapSpec) (mapResult, error)
	runReduce(ctx context.Context, spec reduceSpec) (reduceResult, error)
	// slots is how many attempts may run at once.
	slots() int
	// close stops the runner and returns what went wrong on the way out
	// that did not change the job's output; a second close does nothing.
	close() (warnings []string)
}

func (c *compiled[K, V, OK, OV]) canMerge() bool { return KeyCodecFor[OK]() != nil }

// mergeParts compares output keys by their order-preserving encoding, the
// same order reducers see keys in.
func (c *compiled[K, V, OK, OV]) mergeParts(dst string, parts []string, opts output.Options) error {
	codec := KeyCodecFor[OK]()
	var a, b []byte
	return output.Merge[OK, OV](dst, parts, c.job.outputOptions(opts), func(x, y OK) int {
		a, b = codec.Append(a[:0], x), codec.Append(b[:0], y)
		return bytes.Compare(a, b)
	})
}
