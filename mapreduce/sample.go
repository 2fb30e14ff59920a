package mapreduce

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/shuffle"
)

// Sampling for TotalOrder jobs. Like TeraSort, the driver reads the first
// records of a few splits spread over the input, runs the map function on
// them in its own process, and keeps the encoded keys it emits. Sorted, the
// sample's quantiles become the reducers' range boundaries. A sample of
// sampleSplits × sampleRecords keys puts each reducer's share within a few
// percent of even for inputs whose key order is unrelated to file order.
const (
	sampleSplits  = 10
	sampleRecords = 10000
)

func (c *compiled[K, V, OK, OV]) sampleKeys(ctx context.Context, splits []input.Split, params map[string]string, logger *slog.Logger) ([][]byte, error) {
	tc := newTaskContext(ctx, c.job.Name, "sample", 1, params, logger)
	var keys [][]byte
	emit := func(k K, _ V) { keys = append(keys, c.keys.Append(nil, k)) }
	step := max(1, len(splits)/sampleSplits)
	for i := 0; i < len(splits); i += step {
		if err := c.sampleSplit(tc, splits[i], emit); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func (c *compiled[K, V, OK, OV]) sampleSplit(tc *TaskContext, split input.Split, emit func(K, V)) (err error) {
	defer recoverTask("sample "+split.String(), 1, &err)
	r, err := input.OpenRecords(split)
	if err != nil {
		return err
	}
	defer r.Close()
	for n := 0; n < sampleRecords; n++ {
		in, ok := r.Next()
		if !ok {
			break
		}
		if err := c.job.Map(tc, record(split, in), emit); err != nil {
			return fmt.Errorf("sample %s: map record at %s %d: %w", split, offsetUnit(split), in.Offset, err)
		}
	}
	return r.Err()
}

// rangeSplits samples the input of a TotalOrder job and returns the
// reducers' boundaries.
func (d *driver) rangeSplits(ctx context.Context, splits []input.Split) ([][]byte, error) {
	sample, err := d.job.sampleKeys(ctx, splits, d.cfg.Params, d.cfg.Logger)
	if err != nil {
		return nil, err
	}
	return shuffle.NewRangePartitioner(sample, d.cfg.Reducers).Splits, nil
}
