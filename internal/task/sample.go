package task

import (
	"bytes"
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

// sampleKeys maps the first records of some splits in this process and
// returns the group keys of the pairs emitted, one per pair.
func sampleKeys(ctx context.Context, job ByteJob, splits []input.Split, params map[string]string, logger *slog.Logger) ([][]byte, error) {
	tc := newTaskContext(ctx, job.Info().Name, "sample", 1, params, logger)
	group, _ := job.(Grouping)
	var keys [][]byte
	sample := EmitFunc(func(key, _ []byte) {
		if group != nil {
			key = group.GroupKey(key)
		}
		keys = append(keys, bytes.Clone(key))
	})
	step := max(1, len(splits)/sampleSplits)
	for i := 0; i < len(splits); i += step {
		if err := sampleSplit(tc, job, splits[i], sample); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func sampleSplit(tc *TaskContext, job ByteJob, split input.Split, keys MapOutput) (err error) {
	defer RecoverTask("sample "+split.String(), 1, &err)
	r, err := input.OpenRecords(split)
	if err != nil {
		return err
	}
	defer r.Close()
	mapper, err := job.NewMapper(tc, keys)
	if err != nil {
		return fmt.Errorf("sample %s: %w", split, err)
	}
	for n := 0; n < sampleRecords; n++ {
		in, ok := r.Next()
		if !ok {
			break
		}
		if err := mapper.Map(record(split, in)); err != nil {
			mapper.Abort()
			return fmt.Errorf("sample %s: map record at %s %d: %w", split, offsetUnit(split), in.Offset, err)
		}
	}
	if err := mapper.Close(); err != nil {
		return fmt.Errorf("sample %s: %w", split, err)
	}
	return r.Err()
}

// SampleRanges samples a job's input as the driver of a TotalOrder job
// does (the first records of a few splits spread over the input, run
// through the job's mapper in this process) and returns the n-1 boundaries
// of n key ranges (group keys, for a job with a secondary sort). Another
// engine that partitions by range itself (Beam) uses it, so that its
// ranges are the local engine's.
func SampleRanges(ctx context.Context, job ByteJob, splits []input.Split, params map[string]string, n int, logger *slog.Logger) ([][]byte, error) {
	sample, err := sampleKeys(ctx, job, splits, params, logger)
	if err != nil {
		return nil, err
	}
	return shuffle.NewRangePartitioner(sample, n).Splits, nil
}
